#!/usr/bin/env bash
# Makes sure the real PyKMIP server (Debian's python3-pykmip, /usr/bin/pykmip-server) is
# installed for the KMIP tests. The Go tests of internal/kms/kmip start it themselves, each on a
# free loopback port with generated certificates, a generated server.conf and a SQLite database
# in a temporary directory, and kill it when they end; without it they skip.
#
# Idempotent and quiet: installs only when the server is missing, then checks that it can be
# imported by its interpreter and prints one line. Exits non-zero if it cannot be installed.
#
# Usage: bash .ci/pykmip.sh
set -euo pipefail

server=/usr/bin/pykmip-server
package=python3-pykmip

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi

if [ ! -x "$server" ]; then
	log=$(mktemp)
	trap 'rm -f "$log"' EXIT
	if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package"; } >"$log" 2>&1; then
		echo "pykmip.sh: installing $package failed:" >&2
		cat "$log" >&2
		exit 1
	fi
fi

# The server runs under Debian's interpreter (its #! line), not whatever python3 is first on PATH.
if ! /usr/bin/python3 -c 'import kmip.services.server' 2>/dev/null; then
	echo "pykmip.sh: $server is installed but /usr/bin/python3 cannot import kmip.services.server" >&2
	exit 1
fi
echo "pykmip: $package $(dpkg-query -W -f='${Version}' "$package") ready at $server"
