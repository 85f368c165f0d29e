// ReadBatches reads a file of RecordBatch v2 batches, back to back as in a
// Fetch response's records, with the Java consumer's own classes and in
// the steps its fetcher takes (CompletedFetch.nextFetchedRecord in
// kafka-clients): each batch's ensureValid (the CRC-32C, as check.crcs
// does by default), then streamingIterator over a BufferSupplier, which
// decompresses through the same streams (lz4-java behind
// KafkaLZ4BlockInputStream, zstd-jni, snappy-java, the JDK's gzip), then
// each record's ensureValid, key, value and headers.
//
// Run it as a single-file program on the classpath of Kafka's jars
// (broker.sh classpath), Java 17 or later:
//
//	java -cp 'JARS/*' ReadBatches.java FILE
//
// It prints, tab-separated, a line per batch:
//
//	B  BASE_OFFSET  CODEC  RECORD_COUNT
//
// then a line per record:
//
//	R  OFFSET  TIMESTAMP  KEY  VALUE  HEADER_COUNT  [HEADER_KEY  HEADER_VALUE]...
//
// where KEY, VALUE and the headers are base64 (a header key as its UTF-8
// bytes), and "-" is null. A batch that throws ends with
//
//	E  BASE_OFFSET  EXCEPTION
//
// (its stack trace goes to stderr), and reading goes on with the next
// batch, as far as the batches' lengths lead. The classes are those of
// Kafka 4.3 and later, broker.sh's default: KAFKA-20128 moved them from
// org.apache.kafka.common.record, where earlier releases keep them, to
// org.apache.kafka.common.record.internal.
import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.BufferSupplier;
import org.apache.kafka.common.utils.CloseableIterator;

public class ReadBatches {
    private static final Base64.Encoder BASE64 = Base64.getEncoder();

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: ReadBatches FILE");
            System.exit(2);
        }
        ByteBuffer file = ByteBuffer.wrap(Files.readAllBytes(Path.of(args[0])));
        MemoryRecords records = MemoryRecords.readableRecords(file);
        // The consumer keeps one supplier per fetch, reused from batch to batch.
        BufferSupplier buffers = BufferSupplier.create();
        try (BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.US_ASCII), 1 << 16)) {
            for (RecordBatch batch : records.batches()) {
                read(batch, buffers, out);
            }
        }
    }

    private static void read(RecordBatch batch, BufferSupplier buffers, BufferedWriter out) throws Exception {
        StringBuilder lines = new StringBuilder();
        try {
            batch.ensureValid();
            lines.append("B\t").append(batch.baseOffset()).append('\t').append(batch.compressionType().name)
                .append('\t').append(batch.countOrNull()).append('\n');
            try (CloseableIterator<Record> it = batch.streamingIterator(buffers)) {
                while (it.hasNext()) {
                    Record r = it.next();
                    r.ensureValid();
                    lines.append("R\t").append(r.offset()).append('\t').append(r.timestamp()).append('\t');
                    bytes(lines, r.key());
                    lines.append('\t');
                    bytes(lines, r.value());
                    Header[] headers = r.headers();
                    lines.append('\t').append(headers.length);
                    for (Header h : headers) {
                        lines.append('\t').append(BASE64.encodeToString(h.key().getBytes(StandardCharsets.UTF_8)));
                        lines.append('\t');
                        lines.append(h.value() == null ? "-" : BASE64.encodeToString(h.value()));
                    }
                    lines.append('\n');
                }
            }
        } catch (Exception e) {
            // What was read of the batch is printed before its error.
            lines.append("E\t").append(batch.baseOffset()).append('\t')
                .append(String.valueOf(e).replace('\n', ' ').replace('\t', ' ')).append('\n');
            System.err.println("batch at offset " + batch.baseOffset() + ":");
            e.printStackTrace();
        }
        out.append(lines);
    }

    private static void bytes(StringBuilder lines, ByteBuffer b) {
        if (b == null) {
            lines.append('-');
            return;
        }
        byte[] a = new byte[b.remaining()];
        b.get(a);
        lines.append(BASE64.encodeToString(a));
    }
}
