import type { Dashboard, Panel, Query } from './model';

/**
 * Sluice's Grafana dashboards: one for the whole flow, one per stage. Every query reads metrics
 * the services export (job = the service's name in libs/platform/src/services.ts, as
 * deploy/local/prometheus.sh and the Kubernetes PodMonitors label them) or recording rules of
 * deploy/prometheus/rules; the dashboards' test checks both, and runs every query on a real
 * Prometheus.
 */

const RATE = '$__rate_interval';
const rate = (selector: string) => `rate(${selector}[${RATE}])`;
const quantile = (q: number, bucket: string, by = '') =>
  `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (${rate(bucket)}))`;

/** p50 and p99 of one histogram, optionally per label. */
const p50p99 = (bucket: string, by = '', legend = ''): Query[] => [
  { expr: quantile(0.5, bucket, by), legend: `p50${legend}` },
  { expr: quantile(0.99, bucket, by), legend: `p99${legend}` },
];

/** The panels every Node service has: CPU, memory, event-loop delay, database pool. */
const processPanels = (job: string): Panel[] => [
  {
    title: 'CPU',
    unit: 'percentunit',
    queries: [{ expr: `sum by (instance) (${rate(`process_cpu_seconds_total{job="${job}"}`)})`, legend: '{{instance}}' }],
  },
  {
    title: 'Resident memory',
    unit: 'bytes',
    queries: [{ expr: `sum by (instance) (process_resident_memory_bytes{job="${job}"})`, legend: '{{instance}}' }],
  },
  {
    title: 'Event-loop delay p99',
    description: 'A loop this late delays every request and record the process holds.',
    unit: 's',
    thresholds: [0.05, 0.2],
    queries: [{ expr: `max by (instance) (nodejs_eventloop_lag_p99_seconds{job="${job}"})`, legend: '{{instance}}' }],
  },
  {
    title: 'Database pool',
    description: 'Connections by state, against the pool size; waiting is the queue in front of it.',
    queries: [
      { expr: `sum by (state) (sluice_db_pool_connections{job="${job}"})`, legend: '{{state}}' },
      { expr: `sum(sluice_db_pool_max{job="${job}"})`, legend: 'max' },
      { expr: `sum(sluice_db_pool_waiting{job="${job}"})`, legend: 'waiting' },
    ],
  },
];

/** The panels of a service that consumes with libs/messaging's consumer runtime. */
const consumerPanels = (job: string): Panel[] => [
  {
    title: 'Records handled',
    unit: 'ops',
    stacked: true,
    queries: [
      {
        expr: `sum by (topic, outcome) (${rate(`sluice_consumer_messages_total{job="${job}"}`)})`,
        legend: '{{topic}} {{outcome}}',
      },
    ],
  },
  {
    title: 'Consumer lag',
    description: 'Records behind the end of each topic, worst partition.',
    queries: [{ expr: `max by (group, topic) (sluice_consumer_lag_records{job="${job}"})`, legend: '{{group}} {{topic}}' }],
  },
  {
    title: 'Batch time',
    unit: 's',
    queries: p50p99(`sluice_consumer_batch_seconds_bucket{job="${job}"}`),
  },
  {
    title: 'Retries, failures and dead letters',
    unit: 'ops',
    queries: [
      { expr: `sum by (kind) (${rate(`sluice_consumer_retries_total{job="${job}"}`)})`, legend: 'retry {{kind}}' },
      { expr: `sum by (topic) (${rate(`sluice_consumer_handler_failures_total{job="${job}"}`)})`, legend: 'failed {{topic}}' },
      { expr: `sum by (code) (${rate(`sluice_consumer_dead_letters_total{job="${job}"}`)})`, legend: 'dead letter {{code}}' },
    ],
  },
  {
    title: 'Batches in flight',
    queries: [
      { expr: `sum by (group) (sluice_consumer_batches_in_flight{job="${job}"})`, legend: '{{group}}' },
      { expr: `sum by (group) (sluice_consumer_batches_in_flight_limit{job="${job}"})`, legend: '{{group}} limit' },
    ],
  },
  {
    title: 'Assigned partitions',
    queries: [{ expr: `sum by (topic) (sluice_consumer_assigned_partitions{job="${job}"})`, legend: '{{topic}}' }],
  },
];

/** Requests, latency and refusals of an HTTP service (libs/http). */
const httpPanels = (job: string, sloSeconds?: number): Panel[] => [
  {
    title: 'Requests by status',
    unit: 'reqps',
    stacked: true,
    queries: [
      { expr: `sum by (status_class) (${rate(`sluice_http_requests_total{job="${job}"}`)})`, legend: '{{status_class}}' },
    ],
  },
  {
    title: 'Latency by route',
    unit: 's',
    thresholds: sloSeconds ? [sloSeconds] : undefined,
    queries: [...p50p99(`sluice_http_request_duration_seconds_bucket{job="${job}"}`, 'route', ' {{route}}')],
  },
  {
    title: 'Connections',
    description: 'Open connections against the bound; refusals are connections closed at the bound.',
    queries: [
      { expr: `sum(sluice_http_connections{job="${job}"})`, legend: 'open' },
      { expr: `sum(sluice_http_connections_max{job="${job}"})`, legend: 'max' },
      { expr: `sum(${rate(`sluice_http_connections_refused_total{job="${job}"}`)})`, legend: 'refused/s' },
    ],
  },
];

const flow: Dashboard = {
  uid: 'sluice-flow',
  title: 'Sluice — the whole flow',
  description: 'A deposit from the front door to the read model: rates, latency and freshness at every hop.',
  file: 'flow.json',
  rows: [
    {
      title: 'Front door (command API)',
      panels: [
        {
          title: 'Commands by status',
          unit: 'reqps',
          stacked: true,
          queries: [
            {
              expr: `sum by (status_class) (${rate('sluice_http_requests_total{job="command-api",route=~"/v1/.+"}')})`,
              legend: '{{status_class}}',
            },
          ],
        },
        {
          title: 'Command latency',
          description: 'The SLO: 99 % of admitted commands within 250 ms.',
          unit: 's',
          thresholds: [0.25],
          queries: p50p99('sluice_http_request_duration_seconds_bucket{job="command-api",route=~"/v1/.+",status!~"5..|429"}'),
        },
        {
          title: 'Refused (429 and 503)',
          unit: 'reqps',
          stacked: true,
          queries: [
            {
              expr: `sum by (dependency, reason) (${rate('sluice_admission_rejects_total{job="command-api"}')})`,
              legend: 'admission {{dependency}} {{reason}}',
            },
            { expr: `sum by (scope) (${rate('sluice_rate_limited_total{job="command-api"}')})`, legend: 'rate limit {{scope}}' },
            {
              expr: `sum by (reason, upstream) (${rate('sluice_edge_refusals_total{job="edge"}')})`,
              legend: 'edge {{reason}} {{upstream}}',
            },
          ],
        },
      ],
    },
    {
      title: 'Error budgets (deploy/prometheus/rules/command-api-slo.yml)',
      panels: [
        {
          title: 'Availability errors',
          unit: 'percentunit',
          queries: [
            { expr: 'sluice:command_api_availability_errors:ratio_rate5m', legend: '5m' },
            { expr: 'sluice:command_api_availability_errors:ratio_rate1h', legend: '1h' },
            { expr: 'sluice:command_api_availability_errors:ratio_rate6h', legend: '6h' },
          ],
        },
        {
          title: 'Slower than the latency objective',
          unit: 'percentunit',
          queries: [
            { expr: 'sluice:command_api_latency_slow:ratio_rate5m', legend: '5m' },
            { expr: 'sluice:command_api_latency_slow:ratio_rate1h', legend: '1h' },
            { expr: 'sluice:command_api_latency_slow:ratio_rate6h', legend: '6h' },
          ],
        },
        {
          title: 'Refused by the front door',
          unit: 'reqps',
          queries: [
            { expr: 'sluice:command_api_refused:rate5m', legend: '5m' },
            { expr: 'sluice:command_api_refused:rate1h', legend: '1h' },
          ],
        },
      ],
    },
    {
      title: 'Pipeline (outbox → Kafka → read models)',
      panels: [
        {
          title: 'Commit → visible',
          description: 'Upper bound on how stale a read is now: relay lag plus the worst partition of each projection.',
          unit: 's',
          thresholds: [30, 120],
          queries: [
            { expr: 'sluice:commit_to_visible_lag_seconds:max', legend: '{{projection}}' },
            { expr: 'sluice:relay_lag_seconds:max', legend: 'relay (commit → Kafka)' },
          ],
        },
        {
          title: 'Events per second at each hop',
          unit: 'ops',
          queries: [
            { expr: `sum(${rate('sluice_relay_events_total{job="outbox-relay"}')})`, legend: 'published' },
            {
              expr: `sum by (projection) (${rate('sluice_projector_events_applied_total{job="projector"}')})`,
              legend: 'applied {{projection}}',
            },
          ],
        },
        {
          title: 'Retained WAL',
          description: 'What the outbox slot holds back; the relay pauses past its limit and the command API sheds.',
          unit: 'bytes',
          queries: [{ expr: 'sluice:outbox_retained_wal_bytes:max', legend: 'retained' }],
        },
        {
          title: 'Consumer lag (records)',
          queries: [
            { expr: 'max by (projection) (sluice_projector_lag_records{job="projector"})', legend: 'projector {{projection}}' },
            { expr: 'max by (job, group) (sluice_consumer_lag_records)', legend: '{{job}} {{group}}' },
          ],
        },
        {
          title: 'Dead letters',
          unit: 'ops',
          queries: [
            { expr: `sum by (job, code) (${rate('sluice_consumer_dead_letters_total')})`, legend: '{{job}} {{code}}' },
            {
              expr: `sum by (projection, code) (${rate('sluice_projector_dead_letters_total{job="projector"}')})`,
              legend: 'projector {{projection}} {{code}}',
            },
          ],
        },
        {
          title: 'Parked records',
          queries: [
            { expr: 'sum by (projection, state) (sluice_projection_parked_records)', legend: '{{projection}} {{state}}' },
          ],
        },
      ],
    },
    {
      title: 'Payments',
      panels: [
        {
          title: 'Sagas by state',
          stacked: true,
          queries: [{ expr: 'sum by (state) (sluice_payments_sagas{job="payments-worker"})', legend: '{{state}}' }],
        },
        {
          title: 'Open circuits',
          description: '1 while a circuit is open.',
          queries: [{ expr: 'max by (job, dependency) (sluice_circuit_state{state="open"})', legend: '{{job}} {{dependency}}' }],
        },
        {
          title: 'Needing review and unprocessed webhooks',
          queries: [
            { expr: 'sum(sluice_payments_sagas_needing_review{job="payments-worker"})', legend: 'sagas needing review' },
            { expr: 'sum(sluice_payments_webhooks_unprocessed{job="payments-worker"})', legend: 'webhooks unprocessed' },
          ],
        },
      ],
    },
    {
      title: 'Processes',
      panels: [
        {
          title: 'Up',
          kind: 'stat',
          queries: [{ expr: 'sum by (job) (up)', legend: '{{job}}' }],
          width: 24,
        },
        {
          title: 'CPU by service',
          unit: 'percentunit',
          stacked: true,
          width: 12,
          queries: [{ expr: `sum by (job) (${rate('process_cpu_seconds_total')})`, legend: '{{job}}' }],
        },
        {
          title: 'Event-loop delay p99 by service',
          unit: 's',
          width: 12,
          queries: [{ expr: 'max by (job) (nodejs_eventloop_lag_p99_seconds)', legend: '{{job}}' }],
        },
      ],
    },
  ],
};

const commandApi: Dashboard = {
  uid: 'sluice-command-api',
  title: 'Sluice — command API',
  description: 'Admission, rate limits, group commit and the outbox write of the command API.',
  file: 'command-api.json',
  rows: [
    { title: 'HTTP', panels: httpPanels('command-api', 0.25) },
    {
      title: 'Admission and shedding',
      panels: [
        {
          title: 'In flight against the adaptive limit',
          queries: [
            { expr: 'sum by (dependency) (sluice_admission_in_flight{job="command-api"})', legend: 'in flight {{dependency}}' },
            { expr: 'sum by (dependency) (sluice_admission_limit{job="command-api"})', legend: 'limit {{dependency}}' },
            { expr: 'sum by (dependency) (sluice_admission_queue_depth{job="command-api"})', legend: 'queued {{dependency}}' },
          ],
        },
        {
          title: 'Admission wait',
          unit: 's',
          queries: p50p99('sluice_admission_wait_seconds_bucket{job="command-api"}', 'dependency', ' {{dependency}}'),
        },
        {
          title: 'Refusals',
          unit: 'reqps',
          stacked: true,
          queries: [
            {
              expr: `sum by (dependency, reason) (${rate('sluice_admission_rejects_total{job="command-api"}')})`,
              legend: '{{dependency}} {{reason}}',
            },
            { expr: `sum by (scope) (${rate('sluice_rate_limited_total{job="command-api"}')})`, legend: 'rate limit {{scope}}' },
          ],
        },
        {
          title: 'Relay lag seen by the shedder',
          unit: 'bytes',
          queries: [
            { expr: 'max(sluice_shedder_relay_lag_bytes{job="command-api"})', legend: 'relay lag' },
            { expr: 'max(sluice_shedder_retained_wal_bytes{job="command-api"})', legend: 'retained WAL' },
          ],
        },
      ],
    },
    {
      title: 'Group commit',
      panels: [
        {
          title: 'Commands per transaction',
          queries: p50p99('sluice_command_group_size_bucket{job="command-api"}'),
        },
        {
          title: 'Transaction time and wait for a group',
          unit: 's',
          queries: [
            ...p50p99('sluice_command_group_transaction_seconds_bucket{job="command-api"}', '', ' transaction'),
            ...p50p99('sluice_command_group_wait_seconds_bucket{job="command-api"}', '', ' wait'),
          ],
        },
        {
          title: 'Transactions in flight and queued commands',
          queries: [
            { expr: 'sum(sluice_command_group_transactions{job="command-api"})', legend: 'transactions' },
            { expr: 'sum(sluice_command_group_transactions_max{job="command-api"})', legend: 'max' },
            { expr: 'sum(sluice_command_group_queue_depth{job="command-api"})', legend: 'queued commands' },
          ],
        },
        {
          title: 'Internal commands (Kafka)',
          unit: 'ops',
          queries: [
            {
              expr: `sum by (type, outcome) (${rate('sluice_internal_commands_total{job="command-api"}')})`,
              legend: '{{type}} {{outcome}}',
            },
            {
              expr: `sum by (reason) (${rate('sluice_internal_commands_refused_total{job="command-api"}')})`,
              legend: 'refused {{reason}}',
            },
          ],
        },
      ],
    },
    { title: 'Internal-command consumer', panels: consumerPanels('command-api') },
    { title: 'Process', panels: processPanels('command-api') },
  ],
};

const relay: Dashboard = {
  uid: 'sluice-outbox-relay',
  title: 'Sluice — outbox relay',
  description: 'The WAL relay: leadership, publishing, in-flight bounds and the slot it holds.',
  file: 'outbox-relay.json',
  rows: [
    {
      title: 'Leadership and state',
      panels: [
        {
          title: 'Leader',
          kind: 'stat',
          queries: [{ expr: 'max by (instance) (sluice_relay_leader{job="outbox-relay"})', legend: '{{instance}}' }],
        },
        {
          title: 'State',
          queries: [{ expr: 'max by (state) (sluice_relay_state{job="outbox-relay"})', legend: '{{state}}' }],
        },
        {
          title: 'Reconnects and lost leadership',
          unit: 'ops',
          queries: [
            {
              expr: `sum by (reason) (${rate('sluice_relay_reconnects_total{job="outbox-relay"}')})`,
              legend: 'reconnect {{reason}}',
            },
            {
              expr: `sum by (reason) (${rate('sluice_relay_leader_lost_total{job="outbox-relay"}')})`,
              legend: 'lost {{reason}}',
            },
            { expr: `sum(${rate('sluice_relay_producers_replaced_total{job="outbox-relay"}')})`, legend: 'producer replaced' },
          ],
        },
      ],
    },
    {
      title: 'Publishing',
      panels: [
        {
          title: 'Events published',
          unit: 'ops',
          stacked: true,
          queries: [{ expr: `sum by (topic) (${rate('sluice_relay_events_total{job="outbox-relay"}')})`, legend: '{{topic}}' }],
        },
        {
          title: 'Commit → acknowledged by Kafka',
          unit: 's',
          queries: p50p99('sluice_relay_commit_to_ack_seconds_bucket{job="outbox-relay"}'),
        },
        {
          title: 'Batch size and time',
          queries: [
            ...p50p99('sluice_relay_batch_records_bucket{job="outbox-relay"}', '', ' records'),
            ...p50p99('sluice_relay_batch_seconds_bucket{job="outbox-relay"}', '', ' seconds'),
          ],
        },
        {
          title: 'Records in flight against the bound',
          queries: [
            { expr: 'max(sluice_relay_records_in_flight{job="outbox-relay"})', legend: 'in flight' },
            { expr: 'max(sluice_relay_records_in_flight_limit{job="outbox-relay"})', legend: 'limit' },
          ],
        },
        {
          title: 'Bytes in flight against the bound',
          unit: 'bytes',
          queries: [
            { expr: 'max(sluice_relay_bytes_in_flight{job="outbox-relay"})', legend: 'in flight' },
            { expr: 'max(sluice_relay_bytes_in_flight_limit{job="outbox-relay"})', legend: 'limit' },
            { expr: 'max(sluice_relay_wal_reading_paused{job="outbox-relay"})', legend: 'reading paused (1)' },
          ],
        },
        {
          title: 'Skipped records and checkpoints',
          unit: 'ops',
          queries: [
            { expr: `sum(${rate('sluice_relay_skipped_records_total{job="outbox-relay"}')})`, legend: 'skipped' },
            { expr: `sum(${rate('sluice_relay_checkpoint_saves_total{job="outbox-relay"}')})`, legend: 'checkpoints saved' },
          ],
        },
      ],
    },
    {
      title: 'Slot',
      panels: [
        {
          title: 'Lag',
          unit: 's',
          queries: [{ expr: 'sluice:relay_lag_seconds:max', legend: 'commit → Kafka' }],
        },
        {
          title: 'Lag and retained WAL',
          unit: 'bytes',
          queries: [
            { expr: 'max(sluice_relay_lag_bytes{job="outbox-relay"})', legend: 'lag' },
            { expr: 'sluice:outbox_retained_wal_bytes:max', legend: 'retained' },
          ],
        },
        {
          title: 'Polling backlog (polling mode)',
          queries: [{ expr: 'max(sluice_relay_polling_backlog{job="outbox-relay"})', legend: 'rows' }],
        },
      ],
    },
    { title: 'Process', panels: processPanels('outbox-relay') },
  ],
};

const projector: Dashboard = {
  uid: 'sluice-projector',
  title: 'Sluice — projector',
  description: 'Events applied to each read model, batches, lag per partition, failures and rebuilds.',
  file: 'projector.json',
  rows: [
    {
      title: 'Applying',
      panels: [
        {
          title: 'Events applied',
          unit: 'ops',
          stacked: true,
          queries: [
            {
              expr: `sum by (projection) (${rate('sluice_projector_events_applied_total{job="projector"}')})`,
              legend: '{{projection}}',
            },
          ],
        },
        {
          title: 'Skipped and held',
          unit: 'ops',
          queries: [
            {
              expr: `sum by (projection, reason) (${rate('sluice_projector_events_skipped_total{job="projector"}')})`,
              legend: 'skipped {{projection}} {{reason}}',
            },
            {
              expr: `sum by (projection) (${rate('sluice_projector_events_held_total{job="projector"}')})`,
              legend: 'held {{projection}}',
            },
          ],
        },
        {
          title: 'Batch time',
          unit: 's',
          queries: p50p99('sluice_projector_batch_duration_seconds_bucket{job="projector"}', 'projection', ' {{projection}}'),
        },
        {
          title: 'Batch size',
          queries: p50p99('sluice_projector_batch_size_bucket{job="projector"}', 'projection', ' {{projection}}'),
        },
        {
          title: 'Partitions per transaction',
          queries: p50p99('sluice_projector_transaction_partitions_bucket{job="projector"}'),
        },
        {
          title: 'Failures, retries and dead letters',
          unit: 'ops',
          queries: [
            {
              expr: `sum by (projection) (${rate('sluice_projector_batch_failures_total{job="projector"}')})`,
              legend: 'failed batch {{projection}}',
            },
            {
              expr: `sum by (projection, blame) (${rate('sluice_projector_retries_total{job="projector"}')})`,
              legend: 'retry {{projection}} {{blame}}',
            },
            {
              expr: `sum by (projection, code) (${rate('sluice_projector_dead_letters_total{job="projector"}')})`,
              legend: 'dead letter {{projection}} {{code}}',
            },
          ],
        },
      ],
    },
    {
      title: 'Lag',
      panels: [
        {
          title: 'Lag (seconds) per projection, worst partition',
          unit: 's',
          queries: [{ expr: 'max by (projection) (sluice_projector_lag_seconds{job="projector"})', legend: '{{projection}}' }],
        },
        {
          title: 'Lag (records) per partition',
          queries: [
            {
              expr: 'max by (projection, partition) (sluice_projector_lag_records{job="projector"})',
              legend: '{{projection}} p{{partition}}',
            },
          ],
        },
        {
          title: 'Seconds since progress',
          unit: 's',
          queries: [
            {
              expr: 'time() - max by (topic, partition) (sluice_projector_last_progress_timestamp_seconds{job="projector"})',
              legend: '{{topic}} p{{partition}}',
            },
          ],
        },
      ],
    },
    {
      title: 'Versions and rebuilds',
      panels: [
        {
          title: 'Live version',
          kind: 'stat',
          queries: [{ expr: 'max by (projection) (sluice_projection_live_version)', legend: '{{projection}}' }],
        },
        {
          title: 'Rebuild progress',
          unit: 'percentunit',
          queries: [
            {
              expr: 'max by (projection, version) (sluice_projection_rebuild_progress_ratio)',
              legend: '{{projection}} v{{version}}',
            },
          ],
        },
        {
          title: 'Rebuild speed',
          unit: 'ops',
          queries: [
            {
              expr: 'max by (projection, version) (sluice_projection_rebuild_events_per_second)',
              legend: '{{projection}} v{{version}}',
            },
          ],
        },
        {
          title: 'Parked records',
          queries: [
            { expr: 'sum by (projection, state) (sluice_projection_parked_records)', legend: '{{projection}} {{state}}' },
          ],
        },
      ],
    },
    { title: 'Process', panels: processPanels('projector') },
  ],
};

const queryApi: Dashboard = {
  uid: 'sluice-query-api',
  title: 'Sluice — query API',
  description: 'Reads of the read models, read-your-writes waits, and the push streams (SSE and WebSocket).',
  file: 'query-api.json',
  rows: [
    { title: 'HTTP', panels: httpPanels('query-api') },
    {
      title: 'Reads',
      panels: [
        {
          title: 'Cache',
          unit: 'ops',
          stacked: true,
          queries: [
            {
              expr: `sum by (resource, result) (${rate('sluice_query_cache_requests_total{job="query-api"}')})`,
              legend: '{{resource}} {{result}}',
            },
            {
              expr: `sum by (resource) (${rate('sluice_query_not_modified_total{job="query-api"}')})`,
              legend: '304 {{resource}}',
            },
          ],
        },
        {
          title: 'Read-your-writes (min version) waits',
          unit: 's',
          queries: [
            ...p50p99('sluice_query_min_version_wait_seconds_bucket{job="query-api"}', 'resource', ' {{resource}}'),
            { expr: 'sum(sluice_query_min_version_waiting{job="query-api"})', legend: 'waiting now' },
          ],
        },
        {
          title: 'Read model lag seen by reads',
          unit: 's',
          queries: [
            { expr: 'max by (projection) (sluice_query_read_model_lag_seconds{job="query-api"})', legend: '{{projection}}' },
          ],
        },
      ],
    },
    {
      title: 'Push',
      panels: [
        {
          title: 'Stream connections',
          queries: [
            { expr: 'sum by (transport) (sluice_stream_connections{job="query-api"})', legend: '{{transport}}' },
            { expr: 'max(sluice_query_change_feed_connected{job="query-api"})', legend: 'change feed connected (1)' },
          ],
        },
        {
          title: 'Messages pushed',
          unit: 'ops',
          queries: [
            {
              expr: `sum by (transport, priority) (${rate('sluice_stream_messages_total{job="query-api"}')})`,
              legend: '{{transport}} {{priority}}',
            },
            {
              expr: `sum by (kind) (${rate('sluice_query_change_notifications_total{job="query-api"}')})`,
              legend: 'notified {{kind}}',
            },
          ],
        },
        {
          title: 'Refused and dropped',
          unit: 'ops',
          queries: [
            {
              expr: `sum by (transport, reason) (${rate('sluice_stream_refused_total{job="query-api"}')})`,
              legend: 'refused {{transport}} {{reason}}',
            },
            {
              expr: `sum by (transport, reason) (${rate('sluice_stream_dropped_total{job="query-api"}')})`,
              legend: 'dropped {{transport}} {{reason}}',
            },
          ],
        },
      ],
    },
    { title: 'Process', panels: processPanels('query-api') },
  ],
};

const payments: Dashboard = {
  uid: 'sluice-payments',
  title: 'Sluice — payments and bonus',
  description: 'The withdrawal saga, the payment provider behind its circuit, webhooks, and the bonus service.',
  file: 'payments.json',
  rows: [
    {
      title: 'Sagas',
      panels: [
        {
          title: 'Sagas by state',
          stacked: true,
          queries: [
            {
              expr: 'sum by (state, parked) (sluice_payments_sagas{job="payments-worker"})',
              legend: '{{state}} parked={{parked}}',
            },
          ],
        },
        {
          title: 'Saga duration',
          unit: 's',
          queries: p50p99('sluice_payments_saga_seconds_bucket{job="payments-worker"}', 'outcome', ' {{outcome}}'),
        },
        {
          title: 'Steps and reviews',
          unit: 'ops',
          queries: [
            {
              expr: `sum by (action) (${rate('sluice_payments_saga_steps_total{job="payments-worker"}')})`,
              legend: '{{action}}',
            },
            {
              expr: `sum by (reason) (${rate('sluice_payments_reviews_total{job="payments-worker"}')})`,
              legend: 'review {{reason}}',
            },
            { expr: 'sum(sluice_payments_sagas_needing_review{job="payments-worker"})', legend: 'needing review now' },
          ],
        },
        {
          title: 'Commands to the wallet service',
          unit: 'ops',
          queries: [
            {
              expr: `sum by (type) (${rate('sluice_payments_commands_sent_total{job="payments-worker"}')})`,
              legend: 'sent {{type}}',
            },
            { expr: `sum(${rate('sluice_payments_commands_resent_total{job="payments-worker"}')})`, legend: 'resent' },
            { expr: 'sum(sluice_payments_commands_pending{job="payments-worker"})', legend: 'pending' },
          ],
        },
      ],
    },
    {
      title: 'Payment provider',
      panels: [
        {
          title: 'Calls by outcome',
          unit: 'ops',
          stacked: true,
          queries: [
            {
              expr: `sum by (operation, outcome) (${rate('sluice_payments_provider_calls_total{job="payments-worker"}')})`,
              legend: '{{operation}} {{outcome}}',
            },
          ],
        },
        {
          title: 'Call latency',
          unit: 's',
          queries: p50p99('sluice_payments_provider_call_seconds_bucket{job="payments-worker"}', 'operation', ' {{operation}}'),
        },
        {
          title: 'Circuit, bulkhead and retries',
          queries: [
            {
              expr: 'max by (dependency, state) (sluice_circuit_state{job="payments-worker"})',
              legend: 'circuit {{dependency}} {{state}}',
            },
            {
              expr: 'sum by (dependency) (sluice_bulkhead_in_flight{job="payments-worker"})',
              legend: 'in flight {{dependency}}',
            },
            {
              expr: `sum by (operation) (${rate('sluice_payments_provider_retries_total{job="payments-worker"}')})`,
              legend: 'retries/s {{operation}}',
            },
          ],
        },
        {
          title: 'Webhooks',
          unit: 'ops',
          queries: [
            {
              expr: `sum by (result) (${rate('sluice_payments_webhooks_received_total{job="payments-worker"}')})`,
              legend: 'received {{result}}',
            },
            {
              expr: `sum by (outcome) (${rate('sluice_payments_webhooks_processed_total{job="payments-worker"}')})`,
              legend: 'processed {{outcome}}',
            },
            { expr: 'sum(sluice_payments_webhooks_unprocessed{job="payments-worker"})', legend: 'unprocessed now' },
          ],
        },
      ],
    },
    { title: 'Wallet-event consumer', panels: consumerPanels('payments-worker') },
    {
      title: 'Bonus service',
      panels: [
        {
          title: 'Grants sent',
          unit: 'ops',
          queries: [
            {
              expr: `sum by (campaign) (${rate('sluice_bonus_grants_sent_total{job="bonus-service"}')})`,
              legend: '{{campaign}}',
            },
          ],
        },
        ...consumerPanels('bonus-service').slice(0, 2),
      ],
    },
    { title: 'Process', panels: processPanels('payments-worker') },
  ],
};

export const DASHBOARDS: readonly Dashboard[] = [flow, commandApi, relay, projector, queryApi, payments];
