#!/bin/bash
# A soak task: appends its start and end, with the wall clock in ms, to $SOAK_LEDGER (the ground
# truth the soak checks), sleeps a little, reports done. A task killed with its worker writes no end.
echo "S $(date +%s%3N) $SOUS_JOB $1 $SOUS_ATTEMPT $SOUS_WORKER_ID" >> "$SOAK_LEDGER"
sleep "0.$((RANDOM % 5 + 2))"
echo "E $(date +%s%3N) $SOUS_JOB $1 $SOUS_ATTEMPT $SOUS_WORKER_ID" >> "$SOAK_LEDGER"
echo done > "$2"
