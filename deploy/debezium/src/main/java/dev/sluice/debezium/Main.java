package dev.sluice.debezium;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.source.SourceRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;

/**
 * A minimal Debezium Server for the outbox: the embedded engine with the PostgreSQL connector
 * (pgoutput) and the Outbox Event Router, producing every routed record to Kafka with the Java
 * client. Configured by environment (see {@link Settings}); reports on stdout as JSON lines:
 * started once streaming, progress about every second, done when STOP_AFTER_RECORDS records were
 * acknowledged (then exit 0), failed on an error (exit 1; 2 for bad configuration).
 */
public final class Main {
    private static final Logger LOG = LoggerFactory.getLogger(Main.class);

    private final Events events;
    private final Object lifecycle = new Object();
    private volatile boolean terminating;
    private DebeziumEngine<RecordChangeEvent<SourceRecord>> engine;
    private Thread engineThread;
    private Producer<byte[], byte[]> producer;
    private boolean stopped;

    private Main(Events events) {
        this.events = events;
    }

    public static void main(String[] args) {
        Events events = Events.claimStdout();
        Main harness = new Main(events);
        int code;
        try {
            code = harness.run();
        } catch (Settings.Invalid e) {
            events.emit("failed", "message", e.getMessage());
            System.err.println(e.getMessage());
            code = 2;
        } catch (Throwable t) {
            // A SIGTERM during start-up ends the engine too: the shutdown hook reports that one.
            if (!harness.terminating) {
                events.emit("failed", "message", describe(t));
                LOG.error("the Debezium harness failed", t);
            }
            code = 1;
        } finally {
            harness.stop();
        }
        System.exit(code);
    }

    private int run() throws Exception {
        Settings s = Settings.fromEnv(System.getenv());
        try (Postgres pg = Postgres.connect(s)) {
            pg.check();
            pg.ensurePublication();
            var headerColumns = pg.presentHeaderColumns();
            Files.createDirectories(s.offsetFile().getParent());

            CompletableFuture<Long> reached = new CompletableFuture<>();
            CompletableFuture<Throwable> engineEnded = new CompletableFuture<>();
            producer = new KafkaProducer<>(producerProperties(s));
            KafkaSink sink = new KafkaSink(producer, s.stopAfterRecords(), () -> reached.complete(System.nanoTime()));
            engine = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
                    .using(engineProperties(s, headerColumns))
                    .using((success, message, error) -> engineEnded.complete(
                            success && error == null ? null : error != null ? error : new IllegalStateException(message)))
                    .notifying(sink)
                    .build();
            // SIGTERM: close the engine so it commits what Kafka acknowledged, as Debezium Server does.
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                terminating = true;
                if (stop()) events.emit("stopped", "records", sink.acknowledged());
            }, "harness-shutdown"));
            engineThread = new Thread(engine, "debezium-engine");
            engineThread.start();
            LOG.info("engine started: slot {}, publication {}, table {}, topics {}, header columns {}", s.slot(), s.publication(),
                    s.qualifiedTable(), s.topicReplacement(), headerColumns);

            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(s.startTimeoutMs());
            while (!pg.streaming()) {
                if (engineEnded.isDone()) {
                    Throwable error = engineEnded.join();
                    throw new IllegalStateException("the engine stopped before streaming" + (error == null ? "" : ": " + describe(error)), error);
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the connector did not start streaming from slot " + s.slot() + " within "
                            + s.startTimeoutMs() + " ms (Debezium's log is on stderr)");
                }
                Thread.sleep(50);
            }
            long startedNanos = System.nanoTime();
            long startupMs = System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean().getStartTime();
            events.emit("started", "startupMs", startupMs);

            ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "harness-progress");
                t.setDaemon(true);
                return t;
            });
            ticker.scheduleAtFixedRate(() -> events.emit("progress", "records", sink.acknowledged(), "elapsedMs", msSince(startedNanos)),
                    1, 1, TimeUnit.SECONDS);

            CompletableFuture.anyOf(reached, engineEnded).join();
            if (terminating) new CountDownLatch(1).await(); // the shutdown hook reports; the JVM halts after it
            if (!reached.isDone()) {
                Throwable error = engineEnded.join();
                throw new IllegalStateException("the engine stopped: " + (error == null ? "without an error" : describe(error)), error);
            }
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(reached.join() - startedNanos);
            long first = sink.firstRecordNanos();
            stop();
            ticker.shutdownNow();
            events.emit("done", "records", sink.acknowledged(), "elapsedMs", elapsedMs, "firstRecordMs",
                    first == 0 ? 0 : TimeUnit.NANOSECONDS.toMillis(first - startedNanos));
            return 0;
        }
    }

    /**
     * Closes the engine (which commits offsets and confirms the LSN to PostgreSQL) and then the
     * producer. True for the call that did it.
     */
    private boolean stop() {
        synchronized (lifecycle) {
            if (stopped) return false;
            stopped = true;
            if (engineThread != null) closeEngine();
            if (producer != null) producer.close(Duration.ofSeconds(10));
            return true;
        }
    }

    private void closeEngine() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (;;) {
            try {
                engine.close();
                break;
            } catch (IllegalStateException e) {
                // Refused while tasks start (they open connections); already stopped is fine too.
                if (e.getMessage() == null || !e.getMessage().contains("tasks are starting") || System.nanoTime() > deadline) break;
                sleepQuietly(100);
            } catch (Exception e) {
                LOG.warn("closing the engine failed", e);
                break;
            }
        }
        try {
            engineThread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Properties engineProperties(Settings s, List<String> headerColumns) {
        Properties p = new Properties();
        p.setProperty("name", "sluice-debezium-" + s.slot());
        p.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
        p.setProperty("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
        p.setProperty("offset.storage.file.filename", s.offsetFile().toString());
        p.setProperty("offset.flush.interval.ms", Long.toString(s.offsetFlushIntervalMs()));
        // Required by the connector; the router replaces every topic name, so it only names metrics.
        p.setProperty("topic.prefix", s.slot());
        p.setProperty("database.hostname", s.dbHost());
        p.setProperty("database.port", Integer.toString(s.dbPort()));
        p.setProperty("database.user", s.dbUser());
        p.setProperty("database.password", s.dbPassword());
        p.setProperty("database.dbname", s.dbName());
        p.setProperty("plugin.name", "pgoutput");
        p.setProperty("slot.name", s.slot());
        p.setProperty("publication.name", s.publication());
        p.setProperty("publication.autocreate.mode", "disabled");
        p.setProperty("table.include.list", s.tableSchema() + "\\." + s.tableName());
        // The outbox keeps no rows to snapshot: stream from the slot's creation on.
        p.setProperty("snapshot.mode", "no_data");
        // bytea as Connect BYTES, so BinaryDataConverter passes the payload through unchanged.
        p.setProperty("binary.handling.mode", "bytes");
        p.setProperty("tombstones.on.delete", "false");
        // pgoutput hands every slot of the database the pg_logical_emit_message records written in
        // it (Sluice's relay heartbeat is one). The router passes them through as Structs, which
        // BinaryDataConverter refuses, failing the connector: an outbox pipeline captures none.
        p.setProperty("message.prefix.exclude.list", ".*");

        p.setProperty("transforms", "outbox");
        p.setProperty("transforms.outbox.type", "io.debezium.transforms.outbox.EventRouter");
        p.setProperty("transforms.outbox.route.by.field", "aggregatetype");
        p.setProperty("transforms.outbox.route.topic.replacement", s.topicReplacement());
        p.setProperty("transforms.outbox.table.field.event.key", "aggregateid");
        if (!headerColumns.isEmpty()) {
            p.setProperty("transforms.outbox.table.fields.additional.placement",
                    String.join(",", headerColumns.stream().map(c -> c + ":header:" + c).toList()));
        }
        s.engineOverrides().forEach(p::setProperty);
        return p;
    }

    private static Properties producerProperties(Settings s) {
        Properties p = new Properties();
        p.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrapServers());
        p.setProperty(ProducerConfig.CLIENT_ID_CONFIG, "sluice-debezium-" + s.slot());
        p.setProperty(ProducerConfig.ACKS_CONFIG, "all");
        p.setProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.setProperty(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.setProperty(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        // A missing topic (auto-creation is off) fails the send in seconds rather than a minute.
        p.setProperty(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
        s.producerOverrides().forEach(p::setProperty);
        return p;
    }

    private static long msSince(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The message chain, since Debezium wraps the cause that says what is wrong. */
    private static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder(t.getMessage() == null ? t.getClass().getName() : t.getMessage());
        int depth = 0;
        for (Throwable c = t.getCause(); c != null && depth < 8; c = c.getCause(), depth++) {
            if (c.getMessage() != null && sb.indexOf(c.getMessage()) < 0) sb.append(": ").append(c.getMessage());
        }
        return sb.toString();
    }
}
