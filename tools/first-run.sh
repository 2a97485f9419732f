#!/bin/sh
# First start of `make run`: creates the data folder with a new key and the demo data.
# Does nothing when the data folder exists already.
set -eu
bin="${1:-build/pharmdesk}"
data="${2:-./var}"
demo="$(dirname "$0")/../catalog/demo"

[ -e "$data/pharmdesk.db" ] && exit 0
"$bin" init --data "$data"
"$bin" import-catalog "$demo/catalog.csv" --data "$data"
"$bin" import-orders "$demo/orders.csv" --data "$data"
# a demo staff account (admin) with a generated password, printed this once only
pw="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
printf '%s\n' "$pw" | "$bin" staff-add apotheke --role admin --data "$data" >/dev/null
echo "demo data folder ready: $data"
echo "demo staff account for /staff: user 'apotheke', password '$pw'"
echo "  (shown only now; change it on the staff page or with: $bin staff-passwd apotheke --data $data)"
