package io.syncsqlite.it.harness;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.Random;

/**
 * A client application in its own JVM for {@link ClientProcess}: it writes random rows and counter
 * increments through {@code jdbc:syncsqlite:} until it is killed. Every increment is recorded, in the same
 * SQLite transaction, in a local table {@code ledger} that is not synced, so after a SIGKILL the file
 * itself says exactly which increments were committed.
 *
 * <p>Arguments: the driver URL and a seed. Prints {@code ready} once the connection is open.
 */
public final class WriterMain {

    private WriterMain() {
    }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        Random rnd = new Random(Long.parseLong(args[1]));
        try (Connection c = DriverManager.getConnection(url)) {
            System.out.println("ready");
            System.out.flush();
            c.setAutoCommit(false);
            try (PreparedStatement create = c.prepareStatement(
                         "INSERT INTO acct (id, name, balance) VALUES (?, ?, 0) ON CONFLICT (id) DO NOTHING");
                 PreparedStatement exists = c.prepareStatement("SELECT 1 FROM acct WHERE id = ?");
                 PreparedStatement add = c.prepareStatement("UPDATE acct SET balance = balance + ? WHERE id = ?");
                 PreparedStatement ledger = c.prepareStatement("INSERT INTO ledger (acct, amount) VALUES (?, ?)");
                 PreparedStatement note = c.prepareStatement("INSERT INTO entry (id, acct_id, note) VALUES (?, ?, ?)"
                         + " ON CONFLICT (id) DO UPDATE SET note = excluded.note")) {
                for (long step = 0; ; step++) {
                    long acct = 1 + rnd.nextInt(12);
                    int op = rnd.nextInt(10);
                    if (op < 2) {
                        create.setLong(1, acct);
                        create.setString(2, "acct " + acct + " by writer");
                        create.executeUpdate();
                    } else {
                        exists.setLong(1, acct);
                        boolean present;
                        try (ResultSet rs = exists.executeQuery()) {
                            present = rs.next();
                        }
                        if (present && op < 8) {
                            int amount = rnd.nextInt(21) - 10;
                            if (amount != 0) {
                                add.setInt(1, amount);
                                add.setLong(2, acct);
                                if (add.executeUpdate() == 1) {
                                    ledger.setLong(1, acct);
                                    ledger.setInt(2, amount);
                                    ledger.executeUpdate();
                                }
                            }
                        } else if (present) {
                            note.setLong(1, 1 + rnd.nextInt(40));
                            note.setLong(2, acct);
                            note.setString(3, "writer step " + step);
                            note.executeUpdate();
                        }
                    }
                    c.commit();
                    Thread.sleep(rnd.nextInt(4));
                }
            }
        }
    }
}
