// Creates or deletes ACLs through Kafka's Admin API. rust-rdkafka 0.38 has no ACL calls and
// the kafka_2.13 jars carry no AclCommand, so the harness runs this file with Java's
// single-file source launcher against the cluster's own jars.
//
// Usage: java -cp 'libs/*' MetricpipeAcl.java CLIENT_PROPERTIES BOOTSTRAP add|remove SPEC...
// SPEC: PRINCIPAL|RESOURCE_TYPE|PATTERN_TYPE|NAME|OPERATION, e.g. User:alice|TOPIC|LITERAL|metric.all|WRITE

import java.io.FileReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class MetricpipeAcl {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileReader r = new FileReader(args[0])) {
            props.load(r);
        }
        props.put("bootstrap.servers", args[1]);
        List<AclBinding> bindings = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
            String[] f = args[i].split("\\|", 5);
            ResourcePattern pattern = new ResourcePattern(
                ResourceType.valueOf(f[1]), f[3], PatternType.valueOf(f[2]));
            AccessControlEntry entry = new AccessControlEntry(
                f[0], "*", AclOperation.valueOf(f[4]), AclPermissionType.ALLOW);
            bindings.add(new AclBinding(pattern, entry));
        }
        try (Admin admin = Admin.create(props)) {
            if (args[2].equals("add")) {
                admin.createAcls(bindings).all().get();
            } else {
                admin.deleteAcls(bindings.stream().map(AclBinding::toFilter)
                    .collect(Collectors.toList())).all().get();
            }
        }
    }
}
