package metricpipe.bench;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;

/**
 * The Java twin of `metricpipe streams`: the mission's topology on Kafka Streams 4.3.1 with gson and
 * default settings. It is the reference that `metricpipe bench` measures our app against, so it
 * parses the way the mission's app does (gson's JsonParser in every predicate and mapper) and
 * changes no client setting except the thread count and, when asked, the processing guarantee
 * (with Kafka Streams' own defaults under it, such as the 100 ms commit interval of
 * exactly_once_v2).
 *
 * <pre>
 * java -cp 'target/classes:target/lib/*' metricpipe.bench.MetricStreams \
 *     --bootstrap-servers 127.0.0.1:9092 --threads 3 [--application-id ID] [--threshold 0.5]
 *     [--input metric.all] [--cpu metric.cpu] [--memory metric.memory] [--alert metric.cpu.alert]
 *     [--processing-guarantee at_least_once|exactly_once_v2]
 * </pre>
 */
public final class MetricStreams {
  private MetricStreams() {}

  static final class Options {
    String bootstrapServers = "127.0.0.1:9092";
    String applicationId = "metric-streams-application";
    int threads = 1;
    double threshold = 0.5;
    String input = "metric.all";
    String cpu = "metric.cpu";
    String memory = "metric.memory";
    String alert = "metric.cpu.alert";
    String stateDir = null;
    String processingGuarantee = StreamsConfig.AT_LEAST_ONCE;

    static Options parse(String[] args) {
      Options o = new Options();
      for (int i = 0; i < args.length; i++) {
        String flag = args[i];
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException("flag " + flag + " needs a value");
        }
        String v = args[++i];
        switch (flag) {
          case "--bootstrap-servers" -> o.bootstrapServers = v;
          case "--application-id" -> o.applicationId = v;
          case "--threads" -> o.threads = Integer.parseInt(v);
          case "--threshold" -> o.threshold = Double.parseDouble(v);
          case "--input" -> o.input = v;
          case "--cpu" -> o.cpu = v;
          case "--memory" -> o.memory = v;
          case "--alert" -> o.alert = v;
          case "--state-dir" -> o.stateDir = v;
          case "--processing-guarantee" -> o.processingGuarantee = guarantee(v);
          default -> throw new IllegalArgumentException("unknown flag " + flag);
        }
      }
      return o;
    }
  }

  /** Kafka Streams' processing.guarantee values this twin accepts, by their names. */
  static String guarantee(String v) {
    if (v.equals(StreamsConfig.AT_LEAST_ONCE) || v.equals(StreamsConfig.EXACTLY_ONCE_V2)) {
      return v;
    }
    throw new IllegalArgumentException(
        "--processing-guarantee " + v + ": accepted values are "
            + StreamsConfig.AT_LEAST_ONCE + " and " + StreamsConfig.EXACTLY_ONCE_V2);
  }

  /** The metricset name, or null for a record that is not a JSON object with one. */
  static String metricsetName(String value) {
    try {
      JsonObject root = JsonParser.parseString(value).getAsJsonObject();
      JsonElement metricset = root.get("metricset");
      if (metricset == null || !metricset.isJsonObject()) {
        return null;
      }
      JsonElement name = metricset.getAsJsonObject().get("name");
      return name != null && name.isJsonPrimitive() ? name.getAsString() : null;
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** system.cpu.total.norm.pct as a number, or NaN when the record has none. */
  static double totalNormPct(String value) {
    try {
      JsonObject root = JsonParser.parseString(value).getAsJsonObject();
      JsonElement pct =
          root.getAsJsonObject("system")
              .getAsJsonObject("cpu")
              .getAsJsonObject("total")
              .getAsJsonObject("norm")
              .get("pct");
      if (pct == null || !pct.isJsonPrimitive() || !pct.getAsJsonPrimitive().isNumber()) {
        return Double.NaN;
      }
      return pct.getAsDouble();
    } catch (RuntimeException e) {
      return Double.NaN;
    }
  }

  /** The alert: the event's host object with a timestamp field (= @timestamp) added. */
  static String toAlert(String value) {
    JsonObject root = JsonParser.parseString(value).getAsJsonObject();
    JsonObject host = root.has("host") && root.get("host").isJsonObject()
        ? root.getAsJsonObject("host")
        : new JsonObject();
    host.add("timestamp", root.get("@timestamp"));
    return host.toString();
  }

  static Topology topology(Options o) {
    StreamsBuilder builder = new StreamsBuilder();
    KStream<String, String> metrics = builder.stream(o.input);
    Map<String, KStream<String, String>> branches =
        metrics
            .split(Named.as("metric-"))
            .branch((key, value) -> "cpu".equals(metricsetName(value)), Branched.as("cpu"))
            .branch((key, value) -> "memory".equals(metricsetName(value)), Branched.as("memory"))
            .noDefaultBranch();
    KStream<String, String> cpu = branches.get("metric-cpu");
    KStream<String, String> memory = branches.get("metric-memory");
    cpu.to(o.cpu);
    memory.to(o.memory);
    cpu.filter((key, value) -> totalNormPct(value) > o.threshold)
        .mapValues(MetricStreams::toAlert)
        .to(o.alert);
    return builder.build();
  }

  public static void main(String[] args) throws InterruptedException {
    Options o = Options.parse(args);
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, o.applicationId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrapServers);
    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.String().getClass());
    props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.String().getClass());
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, o.threads);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, o.processingGuarantee);
    if (o.stateDir != null) {
      props.put(StreamsConfig.STATE_DIR_CONFIG, o.stateDir);
    }

    Topology topology = topology(o);
    KafkaStreams streams = new KafkaStreams(topology, props);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close();
      done.countDown();
    }));
    streams.start();
    done.await();
  }
}
