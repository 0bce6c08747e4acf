#!/bin/sh
# One-shot (admin-tools image, once the Temporal server is healthy): the namespace and the
# custom search attributes the workflows set (workflows/search-attributes.ts: the same
# five names, all Keyword). Idempotent, so it runs on every `docker compose up`.
set -eu

address="${TEMPORAL_ADDRESS:?}"
ns="${TEMPORAL_NAMESPACE:-default}"

if temporal operator namespace describe --namespace "$ns" --address "$address" >/dev/null 2>&1; then
  echo "namespace $ns exists"
else
  temporal operator namespace create --namespace "$ns" --retention "${TEMPORAL_RETENTION:-72h}" --address "$address"
fi

# A new namespace takes a few seconds to reach every frontend cache: retry instead of failing.
for name in OtaTaskId OtaProductKey OtaDeviceKey OtaFirmwareVersion OtaStatus; do
  attempt=1
  until temporal operator search-attribute list --namespace "$ns" --address "$address" 2>/dev/null | grep -qw "$name" ||
    temporal operator search-attribute create --namespace "$ns" --name "$name" --type Keyword --address "$address"; do
    if [ "$attempt" -ge 30 ]; then
      echo "could not register search attribute $name in namespace $ns" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    sleep 2
  done
  echo "search attribute $name (Keyword) registered"
done
