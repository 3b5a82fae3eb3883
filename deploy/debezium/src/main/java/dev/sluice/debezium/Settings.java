package dev.sluice.debezium;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The harness configuration, read once from the environment. Every problem is collected so a
 * wrong start-up lists them all at once, as Sluice's services do.
 */
record Settings(
        String dbHost,
        int dbPort,
        String dbName,
        String dbUser,
        String dbPassword,
        String slot,
        String publication,
        String tableSchema,
        String tableName,
        String topicReplacement,
        String bootstrapServers,
        Path offsetFile,
        long stopAfterRecords,
        List<String> headerColumns,
        long startTimeoutMs,
        long offsetFlushIntervalMs,
        Map<String, String> engineOverrides,
        Map<String, String> producerOverrides) {

    static final class Invalid extends Exception {
        Invalid(List<String> problems) {
            super("invalid configuration:\n  - " + String.join("\n  - ", problems));
        }
    }

    // PostgreSQL folds unquoted names and Debezium quotes none of them: keep both sides in agreement.
    private static final Pattern PG_NAME = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
    private static final String ENGINE_PREFIX = "ENGINE_";
    private static final String PRODUCER_PREFIX = "PRODUCER_";

    static Settings fromEnv(Map<String, String> env) throws Invalid {
        Reader r = new Reader(env);
        String host = r.string("DB_HOST", "127.0.0.1");
        int port = (int) r.number("DB_PORT", 5432, 1, 65535);
        String db = r.string("DB_NAME", "sluice");
        String user = r.string("DB_USER", "postgres");
        String password = env.getOrDefault("DB_PASSWORD", "");
        String slot = r.pgName("SLOT_NAME", "sluice_debezium");
        String publication = r.pgName("PUBLICATION_NAME", "sluice_debezium");
        String table = r.string("OUTBOX_TABLE", "public.outbox");
        String[] parts = table.split("\\.", -1);
        if (parts.length != 2 || !PG_NAME.matcher(parts[0]).matches() || !PG_NAME.matcher(parts[1]).matches()) {
            r.problems.add("OUTBOX_TABLE must be schema.table in lower case, got \"" + table + "\"");
            parts = new String[] {"public", "outbox"};
        }
        String replacement = r.string("TOPIC_REPLACEMENT", "outbox.event.${routedByValue}");
        String servers = r.string("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092");
        String offsetFile = r.string("OFFSET_FILE", null);
        long stopAfter = r.number("STOP_AFTER_RECORDS", 0, 0, Long.MAX_VALUE);
        List<String> headers = Arrays.stream(r.string("HEADER_COLUMNS", "type,traceparent").split(","))
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .toList();
        for (String h : headers) {
            if (!PG_NAME.matcher(h).matches()) r.problems.add("HEADER_COLUMNS has an invalid column name \"" + h + "\"");
        }
        long startTimeout = r.number("START_TIMEOUT_MS", 60_000, 1_000, 600_000);
        long flushInterval = r.number("OFFSET_FLUSH_INTERVAL_MS", 1_000, 10, 600_000);
        if (!r.problems.isEmpty()) throw new Invalid(r.problems);
        return new Settings(host, port, db, user, password, slot, publication, parts[0], parts[1], replacement, servers,
                Path.of(offsetFile).toAbsolutePath(), stopAfter, headers, startTimeout, flushInterval,
                overrides(env, ENGINE_PREFIX), overrides(env, PRODUCER_PREFIX));
    }

    String qualifiedTable() {
        return tableSchema + "." + tableName;
    }

    String jdbcUrl() {
        return "jdbc:postgresql://" + dbHost + ":" + dbPort + "/" + dbName;
    }

    /** ENGINE_MAX_BATCH_SIZE=4096 becomes max.batch.size=4096: tuning without a new variable per knob. */
    private static Map<String, String> overrides(Map<String, String> env, String prefix) {
        Map<String, String> out = new LinkedHashMap<>();
        env.entrySet().stream()
                .filter(e -> e.getKey().startsWith(prefix) && e.getKey().length() > prefix.length())
                .sorted(Map.Entry.comparingByKey())
                .forEach(e -> out.put(e.getKey().substring(prefix.length()).toLowerCase(Locale.ROOT).replace('_', '.'), e.getValue()));
        return out;
    }

    private static final class Reader {
        final Map<String, String> env;
        final List<String> problems = new ArrayList<>();

        Reader(Map<String, String> env) {
            this.env = env;
        }

        String string(String key, String fallback) {
            String v = env.get(key);
            if (v == null || v.isBlank()) {
                if (fallback == null) problems.add(key + " is required");
                return fallback == null ? "" : fallback;
            }
            return v.trim();
        }

        String pgName(String key, String fallback) {
            String v = string(key, fallback);
            if (!PG_NAME.matcher(v).matches()) {
                problems.add(key + " must be a lower-case PostgreSQL name ([a-z_][a-z0-9_]*, at most 63), got \"" + v + "\"");
            }
            return v;
        }

        long number(String key, long fallback, long min, long max) {
            String v = env.get(key);
            if (v == null || v.isBlank()) return fallback;
            try {
                long n = Long.parseLong(v.trim());
                if (n < min || n > max) {
                    problems.add(key + " must be between " + min + " and " + max + ", got " + n);
                    return fallback;
                }
                return n;
            } catch (NumberFormatException e) {
                problems.add(key + " must be an integer, got \"" + v + "\"");
                return fallback;
            }
        }
    }
}
