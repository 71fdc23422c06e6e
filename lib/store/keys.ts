// The single-table key design of Sous's DynamoDB state, in one place.
//
//   pk                     sk                      what
//   CONFIG                 HEAD                    pointer to the current config version
//   CONFIG#<write id>      PART#<n>                immutable parts of one stored config version
//   TASK#<job>             <node>                  a task that started, finished or backs off
//   COUNTER                <kind>#<name>           resources in use on one node or worker
//   WORKER                 <worker id>             registration, queue, resources, heartbeat
//   SCHEDULER              LEASE                   the round lease with its fencing epoch
//   SCHEDULER              STATE                   round cursor, orphan timers, dispatch mark
//   SCHEDULER              JOBS                    jobs with task items, as one set (written before markers; read only)
//   JOB_WITH_TASKS         <job>                   a job that has task items (one marker per job, never removed)
//   SCHEDULER              CHANGES                 the change sequence, advanced by every task write (ADR 0003)
//   CHANGE                 <sequence, 15 digits>   the tasks one advance wrote (expire after a day)
//   SCHEDULER              DISPATCH_KEY            the key attempt tokens derive from (ADR 0004)
//   CONTAINER_KILL         <attempt>               a kill asked of a container job's running task (lib/store/container-kills.ts)
//   NODESET#<name>         HEAD                    current version of a stored node set (lib/store/node-sets.ts):
//   NODESET#<name>         PART#<version>#<n>      the refreshed tree (`tree`), or one pushed source (`pushed:<source>`)
//
// Attribute names are DynamoDB reserved words more often than not (state, status, name,
// limit...), so every expression goes through ExpressionAttributeNames.

/**
 * Epoch-seconds attribute after which DynamoDB deletes an item: change entries, and the task
 * logs' index items (lib/logs/keys.ts). The table's TTL setting names it (infra/).
 */
export const TTL_ATTRIBUTE = "expiresAt";

export const CONFIG_HEAD = { pk: "CONFIG", sk: "HEAD" } as const;
export const configPartsPk = (writeId: string) => `CONFIG#${writeId}`;
export const configPartKey = (writeId: string, part: number) => ({ pk: configPartsPk(writeId), sk: `PART#${part}` });

export const taskPk = (job: string) => `TASK#${job}`;
export const taskKey = (job: string, node: string) => ({ pk: taskPk(job), sk: node });

export const COUNTER_PK = "COUNTER";
export type CounterKind = "node" | "worker";
/** Workers and data nodes live in separate namespaces: a worker may share a name with a node. */
export const counterKindOf = (level: string): CounterKind => (level === "worker" ? "worker" : "node");
export const counterSk = (kind: CounterKind, name: string) => `${kind}#${name}`;
export const counterKey = (kind: CounterKind, name: string) => ({ pk: COUNTER_PK, sk: counterSk(kind, name) });
/** Attribute holding the amount of one resource in use on a counter item. */
export const usedAttribute = (resource: string) => `used:${resource}`;

export const WORKER_PK = "WORKER";
export const workerKey = (id: string) => ({ pk: WORKER_PK, sk: id });

export const LEASE_KEY = { pk: "SCHEDULER", sk: "LEASE" } as const;
export const SCHEDULER_STATE_KEY = { pk: "SCHEDULER", sk: "STATE" } as const;
/** The set one item held before markers; still read, so jobs recorded in it are not forgotten. */
export const JOBS_WITH_TASKS_KEY = { pk: "SCHEDULER", sk: "JOBS" } as const;
/** One marker per job with task items: no single item grows with the number of jobs. */
export const JOB_MARKER_PK = "JOB_WITH_TASKS";
export const jobMarkerKey = (job: string) => ({ pk: JOB_MARKER_PK, sk: job });
/** The change sequence: bumped in every transaction that writes task items (ADR 0003). */
export const CHANGE_SEQUENCE_KEY = { pk: "SCHEDULER", sk: "CHANGES" } as const;
/** Change entry `seq` (ADR 0003): zero-padded so entries sort by number. */
export const CHANGE_ENTRY_PK = "CHANGE";
export const changeEntrySk = (seq: number) => String(seq).padStart(15, "0");
export const changeEntryKey = (seq: number) => ({ pk: CHANGE_ENTRY_PK, sk: changeEntrySk(seq) });
/** The secret key attempt tokens are derived from; never readable by workers. */
export const DISPATCH_KEY_KEY = { pk: "SCHEDULER", sk: "DISPATCH_KEY" } as const;

export const CONTAINER_KILL_PK = "CONTAINER_KILL";
export const containerKillKey = (attempt: string) => ({ pk: CONTAINER_KILL_PK, sk: attempt });

export const nodeSetPk = (name: string) => `NODESET#${name}`;
