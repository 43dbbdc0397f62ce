// Runs DynamoDB Local bound to loopback only. DynamoDB Local 3.x's ServerRunner
// has no host/address flag (its Jetty server listens on every interface), so
// this launcher builds the server the same way ServerRunner does, points its
// Jetty connectors at 127.0.0.1 before starting, and never configures telemetry
// (no traffic leaves the machine, no metadata file in the working directory).
// Launched by script/dynamodb-local/start in single-file source mode
// (`java LoopbackServerRunner.java ...`), so no build step is needed.
//
// System properties:
//   dynamodb.local.host   address to bind (default 127.0.0.1)
//   dynamodb.local.owner  pid to follow: the server exits when it exits
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class LoopbackServerRunner {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("dynamodb.local.host", "127.0.0.1");
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);

    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    for (Connector connector : server.getConnectors()) {
      ((ServerConnector) connector).setHost(host);
    }

    String owner = System.getProperty("dynamodb.local.owner", "");
    if (!owner.isEmpty()) {
      ProcessHandle.of(Long.parseLong(owner)).ifPresentOrElse(
          handle -> handle.onExit().thenRun(() -> {
            System.err.println("owner process " + owner + " exited; stopping");
            System.exit(0);
          }),
          () -> {
            System.err.println("owner process " + owner + " is not running");
            System.exit(1);
          });
    }

    proxy.start();
    if (!server.isStarted()) {
      // DynamoDBProxyServer.start() only prints bind errors; make them fatal.
      System.exit(1);
    }
    System.err.println("DynamoDB Local listening on " + host + ":" + ((ServerConnector) server.getConnectors()[0]).getLocalPort());
    proxy.join();
  }
}
