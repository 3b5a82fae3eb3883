package dev.sluice.debezium;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * The harness's machine-readable output: one JSON object per line on the real stdout. Everything
 * else a library might print goes to stderr (System.out is redirected), so a reader can parse
 * every stdout line.
 */
final class Events {
    private final PrintStream out;

    private Events(PrintStream out) {
        this.out = out;
    }

    static Events claimStdout() {
        PrintStream real = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        return new Events(real);
    }

    /** One line: {"event":event, k1:v1, ...}; numbers stay numbers, anything else becomes a string. */
    void emit(String event, Object... keysAndValues) {
        StringBuilder line = new StringBuilder(96).append("{\"event\":");
        quote(line, event);
        for (int i = 0; i + 1 < keysAndValues.length; i += 2) {
            line.append(',');
            quote(line, String.valueOf(keysAndValues[i]));
            line.append(':');
            Object v = keysAndValues[i + 1];
            if (v instanceof Number) line.append(v);
            else quote(line, String.valueOf(v));
        }
        out.println(line.append('}'));
    }

    private static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
