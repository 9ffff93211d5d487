# Sourced by install-test-editors.sh (which defines $tools, $python and say): a real
# VS Code for tests/editors/test_vscode_real.py.
#
#   editors/.test-editors/code-server/   code-server 4.96.4 from npm (VS Code 1.96.4)
#   editors/.test-editors/playwright/    Playwright's Python package, driving /usr/bin/chromium
#
# code-server's own install does not go through on these machines as it is; each step
# below works around one obstacle:
#   - its postinstall (npm install in lib/vscode and lib/vscode/extensions) refuses to run
#     as root without npm_config_unsafe_perm=true, so it is run by hand with it;
#   - VS Code's lockfile takes @vscode/proxy-agent from a git URL that cannot be reached;
#     the registry's tarball of the same version has the same integrity hash, and the
#     lockfile is pointed at it (only when the hashes agree);
#   - @vscode/ripgrep downloads `rg`; Debian's ripgrep is put where it looks first (its
#     download cache under $TMPDIR, here a folder of ours);
#   - native modules (argon2, kerberos, ...) compile from source when their prebuilt
#     download fails: against node's headers in /usr/include/node (libkrb5-dev for kerberos).
# Whatever stops it is written to $tools/vscode-real.missing; the tests skip with it.

CODE_SERVER_VERSION=4.96.4
PLAYWRIGHT_VERSION=1.65.2
VSCODE_REAL_TIMEOUT_S=1500 # per npm step: a hung registry must not hang `make test`

vscode_real_missing() {
    say "VS Code (code-server) not installed: $*; tests/editors/test_vscode_real.py will be skipped"
    mkdir -p "$tools"
    printf '%s\n' "$*" >"$tools/vscode-real.missing"
}

# Points every git-resolved entry of an npm lockfile at the registry's tarball of the same
# version, where the registry's integrity hash is the one the lockfile pins.
vscode_real_unpin_git() {
    node - "$1" <<'EOF'
const fs = require('fs');
const { execFileSync } = require('child_process');
const file = process.argv[2];
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
let changed = 0;
for (const [key, entry] of Object.entries(lock.packages || {})) {
  if (!entry.resolved || !entry.resolved.startsWith('git')) continue;
  const name = key.replace(/^.*node_modules\//, '');
  const spec = `${name}@${entry.version}`;
  const dist = JSON.parse(execFileSync('npm', ['view', spec, 'dist', '--json'], { encoding: 'utf8' }));
  if (dist.integrity !== entry.integrity) {
    console.error(`${spec}: the registry's integrity ${dist.integrity} is not the lockfile's ${entry.integrity}`);
    process.exit(1);
  }
  entry.resolved = dist.tarball;
  changed += 1;
}
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`${file}: ${changed} git dependencies taken from the registry`);
EOF
}

# Debian's rg as the archive @vscode/ripgrep would download, in the cache it reads first.
vscode_real_ripgrep_cache() {
    local vscode="$1" tmp="$2" version target
    version="$(node -p "require('$vscode/npm-shrinkwrap.json').packages['node_modules/@vscode/ripgrep'].version")"
    case "$(uname -m)" in
        x86_64) target=x86_64-unknown-linux-musl ;;
        aarch64) target=aarch64-unknown-linux-musl ;;
        *) return 1 ;;
    esac
    mkdir -p "$tmp/vscode-ripgrep-cache-$version" "$tmp/rg" || return 1
    cp "$(command -v rg)" "$tmp/rg/rg" || return 1
    # The release that @vscode/ripgrep 1.15.x downloads (lib/postinstall.js: VERSION).
    tar czf "$tmp/vscode-ripgrep-cache-$version/ripgrep-v13.0.0-10-$target.tar.gz" -C "$tmp/rg" rg
}

install_code_server() {
    local dir="$tools/code-server"
    local package="$dir/node_modules/code-server"
    local stamp="$dir/.installed-$CODE_SERVER_VERSION"
    local log=/tmp/install-test-editors.code-server.log
    if [ -f "$stamp" ] && [ -f "$package/out/node/entry.js" ]; then
        say "code-server $CODE_SERVER_VERSION already in $dir"
        return 0
    fi
    local node_major
    node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)"
    if [ "$node_major" != 20 ]; then
        vscode_real_missing "code-server $CODE_SERVER_VERSION needs Node 20, this is Node ${node_major:-none}"
        return 1
    fi
    if ! command -v rg >/dev/null 2>&1; then
        vscode_real_missing "no rg (Debian: ripgrep) to stand in for the one @vscode/ripgrep downloads"
        return 1
    fi
    local nodedir=""
    if [ -f /usr/include/node/common.gypi ]; then
        nodedir=/usr # node-gyp's --nodedir: include/node/ below it
    else
        say "no node headers in /usr/include/node: native modules that must compile will fetch them (and may fail)"
    fi
    say "installing code-server $CODE_SERVER_VERSION (npm) into $dir (log: $log)"
    rm -rf "$dir"
    mkdir -p "$dir/tmp"
    : >"$log"
    if ! timeout "$VSCODE_REAL_TIMEOUT_S" npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund \
        --loglevel=error "code-server@$CODE_SERVER_VERSION" >>"$log" 2>&1; then
        vscode_real_missing "npm could not install code-server@$CODE_SERVER_VERSION (log: $log)"
        return 1
    fi
    if ! vscode_real_unpin_git "$package/lib/vscode/npm-shrinkwrap.json" >>"$log" 2>&1; then
        vscode_real_missing "VS Code's lockfile has a git dependency the registry does not match (log: $log)"
        return 1
    fi
    if ! vscode_real_ripgrep_cache "$package/lib/vscode" "$dir/tmp" >>"$log" 2>&1; then
        vscode_real_missing "could not put Debian's rg where @vscode/ripgrep looks (log: $log)"
        return 1
    fi
    local agent
    agent="npm/$(npm --version) node/$(node --version) linux $(node -p process.arch)"
    if ! (
        cd "$package" &&
            export TMPDIR="$dir/tmp" npm_config_user_agent="$agent" npm_config_unsafe_perm=true \
                npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false &&
            { [ -z "$nodedir" ] || export npm_config_nodedir="$nodedir"; } &&
            timeout "$VSCODE_REAL_TIMEOUT_S" sh ./postinstall.sh &&
            cd "$dir" && timeout "$VSCODE_REAL_TIMEOUT_S" npm rebuild argon2
    ) >>"$log" 2>&1; then
        vscode_real_missing "code-server's dependencies did not install or compile (log: $log)"
        tail -n 5 "$log" | sed 's/^/    /'
        return 1
    fi
    local version
    version="$(timeout 120 node "$package/out/node/entry.js" --version 2>>"$log" | head -n 1)"
    case "$version" in
        "$CODE_SERVER_VERSION "*) ;;
        *)
            vscode_real_missing "code-server does not start: '$version' (log: $log)"
            return 1
            ;;
    esac
    rm -rf "$dir/tmp"
    touch "$stamp"
    say "installed code-server $version"
}

install_playwright() {
    local target="$tools/playwright"
    local stamp="$target/.installed-$PLAYWRIGHT_VERSION"
    local log=/tmp/install-test-editors.playwright.log
    if [ -f "$stamp" ]; then
        say "Playwright $PLAYWRIGHT_VERSION already in $target"
        return 0
    fi
    if [ ! -x "$python" ]; then
        vscode_real_missing "no Python at $python (run 'make setup' first) for Playwright"
        return 1
    fi
    say "installing Playwright $PLAYWRIGHT_VERSION (PyPI, no browser download) into $target"
    rm -rf "$target"
    if ! timeout "$VSCODE_REAL_TIMEOUT_S" "$python" -m pip install --quiet --disable-pip-version-check \
        --target "$target" "playwright==$PLAYWRIGHT_VERSION" >"$log" 2>&1; then
        vscode_real_missing "pip could not install playwright==$PLAYWRIGHT_VERSION (log: $log)"
        rm -rf "$target"
        return 1
    fi
    touch "$stamp"
}

install_vscode_real() {
    rm -f "$tools/vscode-real.missing"
    if ! command -v chromium >/dev/null 2>&1; then
        vscode_real_missing "no chromium (Debian: chromium) to show code-server in"
        return
    fi
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        vscode_real_missing "no Node.js/npm for code-server"
        return
    fi
    install_code_server || return
    install_playwright || return
    say "VS Code rig ready: code-server $CODE_SERVER_VERSION, $(chromium --version 2>/dev/null | head -n 1), Playwright $PLAYWRIGHT_VERSION"
}
