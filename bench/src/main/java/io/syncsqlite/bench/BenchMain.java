package io.syncsqlite.bench;

import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs the local benchmarks and prints, per benchmark, the median and spread of each driver and the
 * ratio of syncsqlite to raw sqlite-jdbc measured in the same run. Arguments are JMH's own command line
 * (include patterns, {@code -wi}, {@code -i}, {@code -f}...); without includes every benchmark runs.
 * {@code --all [E2eBench options]} runs every local benchmark with JMH's defaults and then the end-to-end
 * harness ({@link io.syncsqlite.bench.e2e.E2eBench}) with the options that follow: every figure of issue 7
 * from one command.
 *
 * <p>Not thread-safe; a command-line entry point.
 */
public final class BenchMain {

    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--all")) {
            local(new String[0]);
            io.syncsqlite.bench.e2e.E2eBench.main(java.util.Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        local(args);
    }

    private static void local(String[] args) throws RunnerException, CommandLineOptionException {
        CommandLineOptions cli = new CommandLineOptions(args);
        OptionsBuilder ob = new OptionsBuilder();
        ob.parent(cli);
        if (cli.getIncludes().isEmpty()) {
            ob.include("io\\.syncsqlite\\.bench\\..*");
        }
        Options options = ob.shouldFailOnError(true).build();
        Collection<RunResult> results = new Runner(options).run();
        print(results);
    }

    /** One benchmark × driver: per-iteration scores. */
    private record Series(String unit, List<Double> scores) {
        double median() {
            List<Double> s = new ArrayList<>(scores);
            s.sort(null);
            int n = s.size();
            return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
        }

        double min() {
            return scores.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
        }

        double max() {
            return scores.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
        }
    }

    static void print(Collection<RunResult> results) {
        Map<String, Map<String, Series>> table = new TreeMap<>();
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark().replaceFirst("^io\\.syncsqlite\\.bench\\.", "");
            String driver = r.getParams().getParam("driver");
            List<Double> scores = new ArrayList<>();
            for (BenchmarkResult br : r.getBenchmarkResults()) {
                for (IterationResult ir : br.getIterationResults()) {
                    scores.add(ir.getPrimaryResult().getScore());
                }
            }
            table.computeIfAbsent(name, k -> new TreeMap<>())
                    .put(driver == null ? "-" : driver, new Series(r.getPrimaryResult().getScoreUnit(), scores));
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-58s %-13s %12s %25s %10s%n", "benchmark", "driver", "median", "spread (min..max)", "ratio");
        for (Map.Entry<String, Map<String, Series>> e : table.entrySet()) {
            Series base = e.getValue().get("sqlite");
            for (Map.Entry<String, Series> d : e.getValue().entrySet()) {
                Series s = d.getValue();
                String ratio = base != null && !d.getKey().equals("sqlite")
                        ? String.format(Locale.ROOT, "%.2fx", s.median() / base.median()) : "";
                System.out.printf(Locale.ROOT, "%-58s %-13s %9.3f %-2s %12.3f..%-10.3f %10s%n", e.getKey(), d.getKey(),
                        s.median(), s.unit().replace("/op", ""), s.min(), s.max(), ratio);
            }
        }
        System.out.println("ratio = median / the median of sqlite-jdbc as applications get it (\"sqlite\"), same run (time per operation: lower is better)");
    }
}
