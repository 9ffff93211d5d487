// Run by `vscode:prepublish`: records where this extension was built, so that an
// installed .vsix still finds `<repo>/.venv/bin/starcoder-ls` without any setting.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..', '..', '..');
const out = path.join(__dirname, '..', 'out');
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'repo-root.json'), JSON.stringify({ root }) + '\n');
console.log(`recorded starcoder-ls repository: ${root}`);
