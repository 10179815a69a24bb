# Shared by the .ci gate scripts (sourced, not run): messages prefixed with the script's name,
# running a command as root (directly, or through sudo), and installing Debian packages.

say() { echo "$(basename "$0"): $*"; }
die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# install_packages PKG... — installs Debian packages; the package lists are refreshed only when
# the install fails without them (a fresh machine may have none, a warm one is up to date).
install_packages() {
    say "installing $*"
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@")
    as_root "${install[@]}" || { as_root apt-get update -qq && as_root "${install[@]}"; }
}
