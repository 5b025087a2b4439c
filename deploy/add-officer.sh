#!/usr/bin/env bash
# Give a handling unit's liaison officer an SSH login that lands in hotline as their hotline user
# (as root; safe to run again for the same account, e.g. to replace the key):
#   - checks the mapping with `hotline ssh-setup` before touching anything (the hotline user must exist
#     and be active; names must be safe to write into sshd_config);
#   - the OS account (useradd -m, shell /bin/sh, no password but not locked: usermod -p '*', so key
#     login works with UsePAM no), member of the store's group;
#   - ~/.ssh/authorized_keys from PUBKEYFILE (700 / 600, owned by the account);
#   - CONF/officers gets the mapping; the sshd snippet is regenerated from all of them, checked with
#     `sshd -t` (the previous snippet is put back if the check fails), and sshd is told to reload.
#
# Usage: deploy/add-officer.sh OSUSER HOTLINEUSER PUBKEYFILE [--auth key|password] [--conf DIR]
#            [--snippet FILE] [--sshd-config FILE] [--sshd-pid FILE] [--no-reload]
# Environment: HOTLINE_CONF (/etc/hotline, written by install.sh), HOTLINE_SSH_SNIPPET
# (/etc/ssh/sshd_config.d/hotline.conf), HOTLINE_SSHD_CONFIG (/etc/ssh/sshd_config),
# HOTLINE_SSHD_PID (/run/sshd.pid); HOTLINE_PREFIX, HOTLINE_DB, HOTLINE_GROUP override hotline.env.
set -euo pipefail

die() { echo "add-officer.sh: $*" >&2; exit 1; }
say() { echo "add-officer.sh: $*"; }

[ $# -ge 3 ] || { sed -n '2,17p' "$0"; exit 2; }
OSUSER=$1 HLUSER=$2 PUBKEY=$3
shift 3
AUTH=key
CONF=${HOTLINE_CONF:-/etc/hotline}
SNIPPET=${HOTLINE_SSH_SNIPPET:-/etc/ssh/sshd_config.d/hotline.conf}
SSHD_CONFIG=${HOTLINE_SSHD_CONFIG:-/etc/ssh/sshd_config}
SSHD_PID=${HOTLINE_SSHD_PID:-/run/sshd.pid}
RELOAD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --auth) AUTH=$2; shift 2 ;;
    --conf) CONF=$2; shift 2 ;;
    --snippet) SNIPPET=$2; shift 2 ;;
    --sshd-config) SSHD_CONFIG=$2; shift 2 ;;
    --sshd-pid) SSHD_PID=$2; shift 2 ;;
    --no-reload) RELOAD=0; shift ;;
    *) die "unknown option: $1" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "run as root"
umask 002
[ -f "$CONF/hotline.env" ] || die "$CONF/hotline.env not found: run deploy/install.sh first"
prefix=${HOTLINE_PREFIX:-} db=${HOTLINE_DB:-} group=${HOTLINE_GROUP:-}
# shellcheck disable=SC1091
. "$CONF/hotline.env"
HOTLINE_PREFIX=${prefix:-$HOTLINE_PREFIX} HOTLINE_DB=${db:-$HOTLINE_DB} HOTLINE_GROUP=${group:-$HOTLINE_GROUP}
HOTLINE=$HOTLINE_PREFIX/bin/hotline
[ -x "$HOTLINE" ] || die "$HOTLINE not found: run deploy/install.sh first"
[ -r "$PUBKEY" ] || die "cannot read the public key file $PUBKEY"
ssh-keygen -l -f "$PUBKEY" >/dev/null 2>&1 || die "$PUBKEY is not an OpenSSH public key"

# every mapping, this one replacing any earlier line for the same account
registry=$CONF/officers
touch "$registry"
maps=()
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  [ "${line%%=*}" = "$OSUSER" ] || maps+=(--map "$line")
done <"$registry"
maps+=(--map "$OSUSER=$HLUSER:$AUTH")

# check everything before changing anything (names, the hotline user, the program, the store)
new_snippet=$(mktemp "${SNIPPET}.new.XXXXXX" 2>/dev/null || mktemp)
trap 'rm -f "$new_snippet"' EXIT
HOTLINE_DB=$HOTLINE_DB "$HOTLINE" ssh-setup --hotline "$HOTLINE" "${maps[@]}" --out "$new_snippet" --json >/dev/null || exit 2

# the OS account
if ! id -u "$OSUSER" >/dev/null 2>&1; then
  useradd -m -s /bin/sh -G "$HOTLINE_GROUP" -c "hotline $HLUSER" "$OSUSER"
  say "created account $OSUSER"
else
  usermod -a -G "$HOTLINE_GROUP" "$OSUSER"
fi
usermod -p '*' "$OSUSER"  # no password, not locked ('!' is refused by sshd when UsePAM is no)
home=$(getent passwd "$OSUSER" | cut -d: -f6)
install -d -m 700 -o "$OSUSER" -g "$(id -gn "$OSUSER")" "$home/.ssh"
install -m 600 -o "$OSUSER" -g "$(id -gn "$OSUSER")" "$PUBKEY" "$home/.ssh/authorized_keys"

# the mapping, then the snippet: put back the old one if sshd does not accept the new
grep -v "^$OSUSER=" "$registry" >"$registry.tmp" || true
echo "$OSUSER=$HLUSER:$AUTH" >>"$registry.tmp"
mv "$registry.tmp" "$registry"
mkdir -p "$(dirname "$SNIPPET")"
[ -f "$SNIPPET" ] && cp -p "$SNIPPET" "$SNIPPET.bak"
chmod 644 "$new_snippet"
mv "$new_snippet" "$SNIPPET"
if ! /usr/sbin/sshd -t -f "$SSHD_CONFIG"; then
  if [ -f "$SNIPPET.bak" ]; then mv "$SNIPPET.bak" "$SNIPPET"; else rm -f "$SNIPPET"; fi
  die "sshd -t refused the new configuration; the previous snippet is back in place"
fi
rm -f "$SNIPPET.bak"
if [ "$RELOAD" -eq 1 ]; then
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet ssh 2>/dev/null; then
    systemctl reload ssh
  elif [ -s "$SSHD_PID" ]; then
    kill -HUP "$(cat "$SSHD_PID")"
  else
    say "sshd is not running here: start or reload it to use $SNIPPET"
  fi
fi
say "$OSUSER -> $HLUSER ($AUTH): ssh -t $OSUSER@$(hostname -f 2>/dev/null || hostname)"
