package io.syncsqlite.bench.e2e;

import java.util.ArrayList;
import java.util.List;

/** The per-run values of one metric of one variant (syncsqlite or its baseline). */
final class Series {

    final String unit;
    final boolean higherIsBetter;
    final List<Double> values = new ArrayList<>();
    int failures;

    Series(String unit, boolean higherIsBetter) {
        this.unit = unit;
        this.higherIsBetter = higherIsBetter;
    }

    void add(double v) {
        values.add(v);
    }

    boolean isEmpty() {
        return values.isEmpty();
    }

    double median() {
        return percentile(values, 50);
    }

    double min() {
        return values.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    double max() {
        return values.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }

    /** Median for p = 50 of an even count is the mean of the two middle values; otherwise nearest rank. */
    static double percentile(List<Double> in, double p) {
        if (in.isEmpty()) {
            return Double.NaN;
        }
        List<Double> s = new ArrayList<>(in);
        s.sort(null);
        int n = s.size();
        if (p == 50) {
            return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
        }
        int rank = (int) Math.ceil(p / 100.0 * n);
        return s.get(Math.min(n - 1, Math.max(0, rank - 1)));
    }
}
