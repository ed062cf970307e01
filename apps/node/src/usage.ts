import { DEFAULTS, KEYS } from './config.js'

/** What --help prints. */
export const USAGE = `usage: npm start -- [options]

  --data <dir>             data directory (default ${DEFAULTS.data}, relative to the working directory)   env YLOG_DATA
  --host <addr>            address to listen on (default ${DEFAULTS.host})                                 env YLOG_HOST
  --port <n>               port, 0 for any free one (default ${DEFAULTS.port})                            env YLOG_PORT
  --write-token <t>        require "Authorization: Bearer <t>" on writes                          env YLOG_WRITE_TOKEN
  --read-token <t>         require "Authorization: Bearer <t>" (or the write token) on reads      env YLOG_READ_TOKEN
  --durability full|normal fsync every commit, or leave it to the OS (default ${DEFAULTS.durability})        env YLOG_DURABILITY
  --compact-after <n>      compact after n updates (default ${DEFAULTS.compactAfter})                           env YLOG_COMPACT_AFTER
  --ingest-capacity <n>    appends waiting for the writer at most (default ${DEFAULTS.ingestCapacity})                 env YLOG_INGEST_CAPACITY
  --ingest-policy block|drop
                           when full: producers wait (block, default), or the event is refused with 503
                           and a gap entry records the loss (drop)                                env YLOG_INGEST_POLICY
  --idempotency-ttl <s>    seconds an Idempotency-Key is remembered (default ${DEFAULTS.idempotencyTtl}, a day)       env YLOG_IDEMPOTENCY_TTL
  --max-clock-skew <s>     seconds a given "at" or "time" may lie ahead of this node's clock, and how far
                           the clock may jump before the node warns (default ${DEFAULTS.maxClockSkew})            env YLOG_MAX_CLOCK_SKEW
  --config <file.json>     JSON file with settings under these keys                           env YLOG_CONFIG
                           (${KEYS.join(', ')})

cluster:
  --peer <ws-url>          a peer's sync endpoint to dial, e.g. ws://10.0.0.2:4747/sync; repeatable
                           env YLOG_PEERS (comma-separated)
  --cluster <name>         cluster name; the endpoint is /sync/<name> (default ${DEFAULTS.cluster})
                           env YLOG_CLUSTER
  --member <node id>       a node (64 lowercase hex digits) allowed to write; repeatable; this node always is
                           env YLOG_MEMBERS (comma-separated)
  --open-membership        any node key may write (its own entries only)
                           env YLOG_OPEN_MEMBERSHIP=1
                           Without --member or --open-membership only this node's entries are accepted
                           and no peer can authenticate (none is a member).
  --read-only-sync loopback|any|none
                           who may follow the log over /sync without a node key: loopback addresses only,
                           anyone, or nobody (default ${DEFAULTS.readOnlySync})
                           env YLOG_READ_ONLY_SYNC

  --check                  check a stopped node's data directory deeply (SQLite integrity, snapshot
                           checksums, every chain and signature) and exit: 0 intact, 1 not
  --help                   print this and exit

Flags override environment variables, which override the config file, which overrides the defaults
(for --peer and --member the whole list: flags replace the variable, which replaces the file's array).`
