#!/usr/bin/env bash
# Deploy hotline-tui on the shared SSH host (as root; safe to run again):
#   - group `hotline` for everyone who may open the shared store;
#   - a venv at PREFIX built from /usr/bin/python3, the project installed into it (not editable),
#     readable and runnable by every account;
#   - for SQLite, the store directory setgid 2775 group hotline, hotline.db and hotline.db-writers
#     pre-created 664 group hotline (SQLite in WAL mode needs write access even to read);
#   - `hotline init` (and the demo data with --demo), and CONF/hotline.env for deploy/add-officer.sh.
#
# Usage: deploy/install.sh [--prefix DIR] [--store DIR] [--db URL] [--group NAME] [--conf DIR]
#                          [--python PATH] [--project DIR] [--demo]
# Each option also reads an environment variable: HOTLINE_PREFIX (/opt/hotline), HOTLINE_STORE
# (/var/lib/hotline), HOTLINE_DB (sqlite:///STORE/hotline.db; a postgresql+psycopg:// URL skips the
# store directory), HOTLINE_GROUP (hotline), HOTLINE_CONF (/etc/hotline), HOTLINE_PYTHON (/usr/bin/python3).
set -euo pipefail

PREFIX=${HOTLINE_PREFIX:-/opt/hotline}
STORE=${HOTLINE_STORE:-/var/lib/hotline}
DB=${HOTLINE_DB:-}
GROUP=${HOTLINE_GROUP:-hotline}
CONF=${HOTLINE_CONF:-/etc/hotline}
PYTHON=${HOTLINE_PYTHON:-/usr/bin/python3}
PROJECT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=0

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=$2; shift 2 ;;
    --store) STORE=$2; shift 2 ;;
    --db) DB=$2; shift 2 ;;
    --group) GROUP=$2; shift 2 ;;
    --conf) CONF=$2; shift 2 ;;
    --python) PYTHON=$2; shift 2 ;;
    --project) PROJECT=$2; shift 2 ;;
    --demo) DEMO=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "run as root (it creates a group, a venv under $PREFIX and the store)"
case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path: $PREFIX" ;; esac
case "$STORE" in /*) ;; *) die "--store must be an absolute path: $STORE" ;; esac
[ -f "$PROJECT/pyproject.toml" ] || die "no pyproject.toml in $PROJECT"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
  || die "$PYTHON cannot build a venv: apt-get install python3-venv"
DB=${DB:-sqlite:///$STORE/hotline.db}

# 1. the group of everyone who may open the store
getent group "$GROUP" >/dev/null || groupadd --system "$GROUP"

# 2. the venv: world-readable, from the system interpreter (a venv made from an interpreter under
#    /root cannot be run by other accounts)
umask 022
if [ ! -x "$PREFIX/bin/python" ]; then
  say "building the venv at $PREFIX"
  mkdir -p "$(dirname "$PREFIX")"
  "$PYTHON" -m venv "$PREFIX"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
deps=$(sha256sum "$PROJECT/pyproject.toml" | cut -c1-64)
if [ "$(cat "$PREFIX/.hotline-deps" 2>/dev/null || true)" = "$deps" ]; then
  # dependencies unchanged since the last run: replace only the project itself
  "$PREFIX/bin/pip" install --quiet --no-deps --force-reinstall --no-build-isolation "$PROJECT"
else
  say "installing hotline-tui and its dependencies into $PREFIX"
  "$PREFIX/bin/pip" install --quiet "hatchling>=1.25"
  "$PREFIX/bin/pip" install --quiet --no-build-isolation "$PROJECT"
  echo "$deps" >"$PREFIX/.hotline-deps"
fi
chmod -R a+rX "$PREFIX"
"$PREFIX/bin/hotline" --help >/dev/null || die "the installed hotline does not run"

# 3. the store directory and files, shared by the group (SQLite only; PostgreSQL has its own server)
case "$DB" in
  sqlite:*)
    install -d -m 2775 -g "$GROUP" "$STORE"
    chgrp "$GROUP" "$STORE" && chmod 2775 "$STORE"
    for f in hotline.db hotline.db-writers; do
      [ -e "$STORE/$f" ] || install -m 664 -g "$GROUP" /dev/null "$STORE/$f"
    done
    for f in "$STORE"/hotline.db "$STORE"/hotline.db-writers "$STORE"/hotline.db-wal "$STORE"/hotline.db-shm; do
      if [ -e "$f" ]; then chgrp "$GROUP" "$f"; chmod 664 "$f"; fi
    done
    ;;
esac

# 4. the schema (and demo data); files SQLite creates stay group-writable
umask 002
if [ "$DEMO" -eq 1 ]; then
  HOTLINE_DB=$DB "$PREFIX/bin/hotline" init --demo --if-empty
else
  HOTLINE_DB=$DB "$PREFIX/bin/hotline" init
fi

# 5. what deploy/add-officer.sh needs to know
install -d -m 755 "$CONF"
umask 022
{
  echo "# written by deploy/install.sh"
  printf 'HOTLINE_PREFIX=%q\n' "$PREFIX"
  printf 'HOTLINE_DB=%q\n' "$DB"
  printf 'HOTLINE_GROUP=%q\n' "$GROUP"
} >"$CONF/hotline.env.tmp"
chmod 600 "$CONF/hotline.env.tmp"
mv "$CONF/hotline.env.tmp" "$CONF/hotline.env"
say "done: $PREFIX/bin/hotline, store $DB, group $GROUP; add officers with deploy/add-officer.sh"
