#!/bin/sh
# Sous's demo task: the task protocol at its smallest. $1 is the node, $2 where the status goes
# (the last line written there counts), $3 the task's JSON (config, prev_status, path_to_node, ...).
echo "demo task for node $1: status to $2, task JSON $3"
echo "demo task: this line goes to stderr" >&2
echo done > "$2"
