package dev.sluice.debezium;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;

/** The few catalog checks and the publication the harness needs around the connector. */
final class Postgres implements AutoCloseable {
    private final Connection conn;
    private final Settings s;

    private Postgres(Connection conn, Settings s) {
        this.conn = conn;
        this.s = s;
    }

    static Postgres connect(Settings s) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", s.dbUser());
        if (!s.dbPassword().isEmpty()) props.setProperty("password", s.dbPassword());
        props.setProperty("ApplicationName", "sluice-debezium-harness");
        props.setProperty("connectTimeout", "10");
        try {
            return new Postgres(DriverManager.getConnection(s.jdbcUrl(), props), s);
        } catch (SQLException e) {
            throw new SQLException("cannot connect to PostgreSQL at " + s.jdbcUrl() + " as " + s.dbUser() + ": " + e.getMessage(), e);
        }
    }

    /** Fails with the reason when the server or the table cannot feed the connector. */
    void check() throws SQLException {
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SHOW wal_level")) {
            rs.next();
            if (!"logical".equals(rs.getString(1))) {
                throw new SQLException("wal_level is " + rs.getString(1) + "; logical decoding needs wal_level=logical");
            }
        }
        if (columns().isEmpty()) throw new SQLException("table " + s.qualifiedTable() + " does not exist in database " + s.dbName());
    }

    /** The configured header columns the table has; the others are left out (traceparent is optional). */
    List<String> presentHeaderColumns() throws SQLException {
        Set<String> cols = columns();
        List<String> present = new ArrayList<>();
        for (String c : s.headerColumns()) if (cols.contains(c)) present.add(c);
        return present;
    }

    /**
     * Creates the publication when missing, publishing inserts only, as Sluice's own slot does:
     * the outbox is append-only by contract and its writer deletes each row in the same
     * transaction, so deletes would only be decoded to be dropped by the router. Creating it here
     * (the connector then runs with publication.autocreate.mode=disabled) is also how a DBA
     * usually provisions Debezium, since autocreation needs table ownership.
     */
    void ensurePublication() throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement("SELECT 1 FROM pg_publication WHERE pubname = ?")) {
            ps.setString(1, s.publication());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    try (Statement st = conn.createStatement()) {
                        st.execute("CREATE PUBLICATION " + s.publication() + " FOR TABLE " + s.qualifiedTable() + " WITH (publish = 'insert')");
                    }
                    return;
                }
            }
        }
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT 1 FROM pg_publication_tables WHERE pubname = ? AND schemaname = ? AND tablename = ?")) {
            ps.setString(1, s.publication());
            ps.setString(2, s.tableSchema());
            ps.setString(3, s.tableName());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("publication " + s.publication() + " exists but does not cover " + s.qualifiedTable()
                            + "; use another PUBLICATION_NAME or ALTER PUBLICATION " + s.publication() + " ADD TABLE " + s.qualifiedTable());
                }
            }
        }
    }

    /**
     * True once a walsender streams from the slot (START_REPLICATION issued), so every commit from
     * now on reaches the connector. The slot being active is not enough: it is active while
     * CREATE_REPLICATION_SLOT waits for running transactions, and a transaction that starts then
     * may commit before the slot is consistent, which the slot then never decodes.
     */
    boolean streaming() throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT r.state FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid"
                        + " WHERE s.slot_name = ? AND s.database = current_database()")) {
            ps.setString(1, s.slot());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return false;
                String state = rs.getString(1);
                return "catchup".equals(state) || "streaming".equals(state);
            }
        }
    }

    private Set<String> columns() throws SQLException {
        Set<String> cols = new HashSet<>();
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?")) {
            ps.setString(1, s.tableSchema());
            ps.setString(2, s.tableName());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) cols.add(rs.getString(1));
            }
        }
        return cols;
    }

    @Override
    public void close() {
        try {
            conn.close();
        } catch (SQLException ignored) {
            // Closing a connection on the way out: nothing left to do with the error.
        }
    }
}
