# Sourced by the project's scripts: installs what a step needs, once per machine.

# The WebAssembly target that Rust func crates build for.
ensure_wasm_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
    echo "setup: adding the wasm32-wasip1 target" >&2
    rustup target add wasm32-wasip1
  fi
}

# A Debian package that provides COMMAND.
ensure_command() {
  local command=$1 package=$2
  if ! command -v "$command" >/dev/null 2>&1; then
    echo "setup: installing $package (for $command)" >&2
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
    else
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
    fi
  fi
}
