package io.ferrymq.interop;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs interop scenarios with the Apache RocketMQ 4.9.8 Java client against one name server.
 *
 *   java io.ferrymq.interop.Scenarios <namesrvAddr> [--serialize ROCKETMQ] [scenario ...|all]
 *
 * "all" leaves out serialize-rocketmq (needs --serialize ROCKETMQ) and rebalance-on-notify (needs
 * -Drocketmq.client.rebalance.waitInterval=20000, the client's default; otherwise the runner sets 1 s).
 *
 * Output, one line per scenario (the vitest driver parses it):
 *   SCENARIO <name> PASS <ms>
 *   SCENARIO <name> FAIL <ms> <reason>
 *   NOTE <name> <text>            facts worth recording (e.g. whether the VIP channel is served)
 * Exit code: 0 when every scenario passed, 1 otherwise, 2 on bad arguments.
 */
public final class Scenarios {
    private Scenarios() {
    }

    interface Scenario {
        void run(Kit kit) throws Exception;
    }

    static Map<String, Scenario> all() {
        Map<String, Scenario> s = new LinkedHashMap<>();
        s.put("send-sync-async-oneway", ProducerScenarios::sendModes);
        s.put("properties-roundtrip", ProducerScenarios::propertiesRoundTrip);
        s.put("batch-send", ProducerScenarios::batchSend);
        s.put("selector-by-key", ProducerScenarios::selectorByKey);
        s.put("view-and-query", ProducerScenarios::viewAndQuery);
        s.put("vip-channel", ProducerScenarios::vipChannel);
        s.put("push-clustering", ConsumerScenarios::pushClustering);
        s.put("push-broadcasting", ConsumerScenarios::pushBroadcasting);
        s.put("orderly-and-locks", ConsumerScenarios::orderlyAndLocks);
        s.put("lite-pull-assign-seek", ConsumerScenarios::litePullAssignSeek);
        s.put("retry-and-dlq", DeliveryScenarios::retryAndDlq);
        s.put("orderly-failure-moves-on", DeliveryScenarios::orderlyFailureMovesOn);
        s.put("delay-level", DeliveryScenarios::delayLevel);
        s.put("tag-filter", DeliveryScenarios::tagFilter);
        s.put("resume-after-restart", DeliveryScenarios::resumeAfterRestart);
        s.put("transaction", DeliveryScenarios::transaction);
        s.put("sql-filter-rejected", DeliveryScenarios::sqlFilterRejected);
        s.put("serialize-rocketmq", ProducerScenarios::serializeRocketmq);
        s.put("rebalance-on-notify", ConsumerScenarios::rebalanceOnNotify);
        return s;
    }

    /** The innermost frame of our own code, which says which step of a scenario failed. */
    static String ownFrame(Throwable e) {
        for (StackTraceElement frame : e.getStackTrace()) {
            if (frame.getClassName().startsWith("io.ferrymq.")) {
                return frame.getClassName().replace("io.ferrymq.interop.", "") + "." + frame.getMethodName() + ":" + frame.getLineNumber();
            }
        }
        return "?";
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: Scenarios <namesrvAddr> [--serialize ROCKETMQ] [scenario ...|all]");
            System.exit(2);
        }
        // Rebalance every second instead of every 20 s (read once, when RebalanceService loads).
        if (System.getProperty("rocketmq.client.rebalance.waitInterval") == null) {
            System.setProperty("rocketmq.client.rebalance.waitInterval", "1000");
        }
        String namesrv = args[0];
        List<String> names = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--serialize")) {
                // Must be set before RemotingCommand is loaded: it reads the property once.
                System.setProperty("rocketmq.serialize.type", args[++i]);
            } else {
                names.add(args[i]);
            }
        }
        Map<String, Scenario> scenarios = all();
        if (names.isEmpty() || names.equals(List.of("all"))) {
            names = new ArrayList<>(scenarios.keySet());
            // These two need JVM-wide settings: run them in their own JVM (see the usage above).
            names.remove("serialize-rocketmq");
            names.remove("rebalance-on-notify");
        }
        for (String name : names) {
            if (!scenarios.containsKey(name)) {
                System.err.println("unknown scenario " + name + "; known: " + scenarios.keySet());
                System.exit(2);
            }
        }
        int failures = 0;
        for (String name : names) {
            long start = System.currentTimeMillis();
            Kit kit = new Kit(namesrv, name);
            try {
                scenarios.get(name).run(kit);
                System.out.println("SCENARIO " + name + " PASS " + (System.currentTimeMillis() - start));
            } catch (Throwable e) {
                failures++;
                String reason = String.valueOf(e).replace('\n', ' ');
                if (e.getCause() != null) {
                    reason += " | cause: " + String.valueOf(e.getCause()).replace('\n', ' ');
                }
                reason += " | at " + ownFrame(e);
                System.out.println("SCENARIO " + name + " FAIL " + (System.currentTimeMillis() - start) + " " + reason);
                e.printStackTrace();
            } finally {
                kit.close();
            }
            System.out.flush();
        }
        System.out.println("DONE " + (names.size() - failures) + "/" + names.size() + " " + Arrays.toString(names.toArray()));
        System.out.flush();
        // Client threads (netty, timers) are not all daemons; do not wait for them.
        System.exit(failures == 0 ? 0 : 1);
    }
}
