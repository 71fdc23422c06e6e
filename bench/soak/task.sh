#!/bin/bash
# A soak task: appends its start and end, with the wall clock in ms, to $SOAK_LEDGER (the ground
# truth the soak checks), sleeps a little, reports done. Killed with SIGTERM (its worker gave up),
# it logs its end as it exits; killed with SIGKILL (with its worker), it logs none.
end() { echo "E $(date +%s%3N) $SOUS_JOB $1 $SOUS_ATTEMPT $SOUS_WORKER_ID" >> "$SOAK_LEDGER"; }
trap 'end "$1"; exit 1' TERM
echo "S $(date +%s%3N) $SOUS_JOB $1 $SOUS_ATTEMPT $SOUS_WORKER_ID" >> "$SOAK_LEDGER"
sleep "0.$((RANDOM % 5 + 2))" &
wait $!
end "$1"
echo done > "$2"
