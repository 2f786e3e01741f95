# Sourced by scripts/try and scripts/test: make .venv and install devkit with
# its development extras, once per change of pyproject.toml.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
py=${PYTHON:-python3}
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "error: devkit needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 2
}
stamp=.venv/.devkit-installed
want=$(cat pyproject.toml | "$py" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up .venv (once) ..." >&2
  # Explicit `|| exit`: errexit does not apply when this file is sourced
  # from a condition, and a half-made .venv must never be stamped as done.
  "$py" -m venv .venv || exit 1
  .venv/bin/python -m pip install -q --upgrade pip >&2 || exit 1
  .venv/bin/python -m pip install -q -e '.[dev]' >&2 || exit 1
  echo "$want" > "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"

# npm tools the tests run for real (hook managers: husky, lefthook, ...), from
# testing/package.json and its lock, once per change of the lock.
# --ignore-scripts: a hook manager's postinstall would install itself into
# devkit's own clone.
npm_stamp=testing/node_modules/.devkit-installed
if command -v npm >/dev/null 2>&1; then
  npm_want=$("$py" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' testing/package-lock.json)
  if [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_want" ]; then
    echo "installing testing/package.json's npm tools (once) ..." >&2
    # `npm install`, not `npm ci`: npm 11's ci rejects lefthook's lock for an
    # unpublished optional platform package (npm/cli#9846); install keeps the lock.
    (cd testing && npm install --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 || exit 1
    echo "$npm_want" > "$npm_stamp"
  fi
else
  echo "warning: no npm: the hook manager tests (husky, lefthook) will skip" >&2
fi

# devkit checks its own commits with its committed hook (hooks/pre-commit),
# unless this clone already has a pre-commit hook of its own.
if hooks_dir=$(git rev-parse --git-path hooks 2>/dev/null); then
  if [ ! -e "$hooks_dir/pre-commit" ] && [ ! -L "$hooks_dir/pre-commit" ]; then
    mkdir -p "$hooks_dir" && ln -s "$root/hooks/pre-commit" "$hooks_dir/pre-commit" &&
      echo "installed devkit's own pre-commit hook: $hooks_dir/pre-commit -> hooks/pre-commit" >&2
  fi
fi
