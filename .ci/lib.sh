# Shared by the .ci gate scripts (sourced, not run): messages prefixed with the script's name,
# and running a command as root (directly, or through sudo) to install what a gate needs.

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
