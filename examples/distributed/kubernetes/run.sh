#!/usr/bin/env bash
# Runs the shards (shards.yaml), waits until every index has ended (a finding fails its index:
# merge must still run and report it), then merges (merge.yaml) and prints the summary.
# Usage: run.sh [seed]   (default: today's date; every shard gets the same seed and run id)
set -euo pipefail
cd "$(dirname "$0")"
seed=${1:-$(date +%Y%m%d)}
kubectl delete job powercut-shards powercut-merge --ignore-not-found --wait
sed -e "s/value: '20261126'/value: '$seed'/" -e "s/value: nightly-20261126/value: nightly-$seed/" \
  shards.yaml | kubectl apply -f -
# The Job ends Complete (every shard exit 0) or Failed (some index failed): wait for either.
until kubectl get job powercut-shards \
  -o jsonpath='{range .status.conditions[*]}{.type}={.status}{"\n"}{end}' |
  grep -Eq '^(Complete|Failed)=True$'; do
  sleep 20
done
kubectl apply -f merge.yaml
kubectl wait --for=condition=complete --timeout=30m job/powercut-merge || true
kubectl logs job/powercut-merge
