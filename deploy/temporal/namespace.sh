#!/bin/sh
# One-shot `temporal-namespace` of docker-compose.yml, on temporalio/admin-tools: creates
# the namespace, or brings an existing one to the same settings: the retention of closed
# workflows (NAMESPACE_RETENTION) and the archival of their histories and visibility
# records to the filestore URIs. An archival URI cannot change once set: a namespace
# archiving elsewhere makes `update` fail, saying so.
# The `temporal` CLI reads TEMPORAL_ADDRESS.
set -eu
: "${TEMPORAL_NAMESPACE:?}" "${NAMESPACE_RETENTION:?}"
: "${ARCHIVAL_HISTORY_URI:?}" "${ARCHIVAL_VISIBILITY_URI:?}"

attempts=150  # every 2 s: 5 minutes
until temporal operator cluster health >/dev/null 2>&1; do
    attempts=$((attempts - 1))
    if [ "$attempts" -le 0 ]; then
        echo "temporal-namespace: Temporal at $TEMPORAL_ADDRESS did not answer" >&2
        exit 1
    fi
    echo "temporal-namespace: waiting for Temporal at $TEMPORAL_ADDRESS"
    sleep 2
done

set -- --namespace "$TEMPORAL_NAMESPACE" --retention "$NAMESPACE_RETENTION" \
    --history-archival-state enabled --history-uri "$ARCHIVAL_HISTORY_URI" \
    --visibility-archival-state enabled --visibility-uri "$ARCHIVAL_VISIBILITY_URI"
if temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
    echo "temporal-namespace: updating $TEMPORAL_NAMESPACE"
    temporal operator namespace update "$@"
else
    echo "temporal-namespace: creating $TEMPORAL_NAMESPACE"
    temporal operator namespace create \
        --description "Dossiers of circular IMIG0900055C" "$@"
fi
temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE"
