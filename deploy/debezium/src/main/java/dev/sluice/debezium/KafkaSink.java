package dev.sluice.debezium;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.Converter;
import org.apache.kafka.connect.storage.HeaderConverter;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;
import org.apache.kafka.connect.storage.StringConverter;

import io.debezium.DebeziumException;
import io.debezium.converters.BinaryDataConverter;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;

/**
 * What a Kafka Connect worker does with a source record after the SMTs, for an outbox deployment:
 * key through StringConverter, value through BinaryDataConverter (the payload column's bytes,
 * untouched), headers through SimpleHeaderConverter (Connect's default), partition left to the
 * producer's default partitioner (murmur2 of the key bytes).
 *
 * A batch is marked processed only after Kafka acknowledged all of it, so the offsets the engine
 * commits (and the LSN it confirms to PostgreSQL) never run ahead of Kafka.
 */
final class KafkaSink implements DebeziumEngine.ChangeConsumer<RecordChangeEvent<SourceRecord>> {
    private final Producer<byte[], byte[]> producer;
    private final Converter keyConverter = new StringConverter();
    private final Converter valueConverter = new BinaryDataConverter();
    private final HeaderConverter headerConverter = new SimpleHeaderConverter();
    private final AtomicLong acknowledged = new AtomicLong();
    private final long stopAfter;
    private final Runnable onStopReached;
    private volatile long firstRecordNanos;

    KafkaSink(Producer<byte[], byte[]> producer, long stopAfter, Runnable onStopReached) {
        this.producer = producer;
        this.stopAfter = stopAfter;
        this.onStopReached = onStopReached;
        keyConverter.configure(Map.of(), true);
        valueConverter.configure(Map.of(), false);
        headerConverter.configure(Map.of());
    }

    long acknowledged() {
        return acknowledged.get();
    }

    /** System.nanoTime() when the first record arrived; 0 before. */
    long firstRecordNanos() {
        return firstRecordNanos;
    }

    @Override
    public void handleBatch(List<RecordChangeEvent<SourceRecord>> events, DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer)
            throws InterruptedException {
        if (events.isEmpty()) {
            committer.markBatchFinished();
            return;
        }
        if (firstRecordNanos == 0) firstRecordNanos = System.nanoTime();
        List<Future<RecordMetadata>> acks = new ArrayList<>(events.size());
        for (RecordChangeEvent<SourceRecord> event : events) {
            Future<RecordMetadata> ack = producer.send(toProducerRecord(event.record()));
            acks.add(ack);
            // A send that failed at once (a missing topic, after max.block.ms) would fail all the
            // others the same way, each after its own wait.
            if (ack.isDone()) awaitAck(ack, event);
        }
        for (int i = 0; i < acks.size(); i++) {
            awaitAck(acks.get(i), events.get(i));
            committer.markProcessed(events.get(i));
        }
        committer.markBatchFinished();
        long total = acknowledged.addAndGet(events.size());
        if (stopAfter > 0 && total >= stopAfter) onStopReached.run();
    }

    private static void awaitAck(Future<RecordMetadata> ack, RecordChangeEvent<SourceRecord> event) throws InterruptedException {
        try {
            ack.get();
        } catch (ExecutionException e) {
            throw new DebeziumException("Kafka did not acknowledge a record for " + event.record().topic() + ": " + e.getCause(), e.getCause());
        }
    }

    private ProducerRecord<byte[], byte[]> toProducerRecord(SourceRecord r) {
        String topic = r.topic();
        RecordHeaders headers = new RecordHeaders();
        for (Header h : r.headers()) {
            headers.add(h.key(), headerConverter.fromConnectHeader(topic, h.key(), h.schema(), h.value()));
        }
        byte[] key = keyConverter.fromConnectData(topic, headers, r.keySchema(), r.key());
        byte[] value = valueConverter.fromConnectData(topic, headers, r.valueSchema(), r.value());
        Long timestamp = r.timestamp() == null || r.timestamp() < 0 ? null : r.timestamp();
        return new ProducerRecord<>(topic, r.kafkaPartition(), timestamp, key, value, headers);
    }
}
