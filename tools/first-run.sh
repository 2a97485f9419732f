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
echo "demo data folder ready: $data"
