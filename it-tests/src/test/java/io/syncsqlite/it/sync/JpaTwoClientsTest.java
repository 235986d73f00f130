package io.syncsqlite.it.sync;

import io.syncsqlite.examples.jpa.JpaExample;
import io.syncsqlite.examples.jpa.Player;
import io.syncsqlite.examples.jpa.Tournament;
import io.syncsqlite.it.support.RelayFixture;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.stream.Collectors;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The JPA example application, unchanged but for its URL, run as two clients against one relay: what one
 * persists appears in PostgreSQL and, loaded through JPA, on the other.
 */
class JpaTwoClientsTest {

    @TempDir
    Path dir;

    @Test
    void entitiesPersistedOnOneClientLoadOnTheOther() {
        try (RelayFixture relay = RelayFixture.start("e2e_jpa", JpaExample.POSTGRES_DDL);
             EntityManagerFactory one = JpaExample.open(dir.resolve("one.db").toString(), relay.uri().toString());
             EntityManagerFactory two = JpaExample.open(dir.resolve("two.db").toString(), relay.uri().toString())) {
            String tournamentId;
            EntityManager em = one.createEntityManager();
            em.getTransaction().begin();
            Player ann = new Player("Ann", 1800);
            Player bob = new Player("Bob", 1650);
            Tournament t = new Tournament("Spring Open");
            t.enrol(ann);
            t.enrol(bob);
            em.persist(ann);
            em.persist(bob);
            em.persist(t);
            em.getTransaction().commit();
            tournamentId = t.getId();
            em.close();

            await().atMost(Duration.ofSeconds(30)).until(() -> relay.queryLong("SELECT count(*) FROM enrolment") == 2);
            assertEquals(1, relay.queryLong("SELECT count(*) FROM tournament WHERE title = 'Spring Open'"));

            Set<String> names = await().atMost(Duration.ofSeconds(30)).until(() -> {
                EntityManager other = two.createEntityManager();
                try {
                    Tournament seen = other.find(Tournament.class, tournamentId);
                    return seen == null ? Set.<String>of()
                            : seen.getPlayers().stream().map(Player::getName).collect(Collectors.toSet());
                } finally {
                    other.close();
                }
            }, s -> s.size() == 2);
            assertEquals(Set.of("Ann", "Bob"), names);

            // And back: a rating changed on the second client reaches PostgreSQL and the first.
            EntityManager em2 = two.createEntityManager();
            em2.getTransaction().begin();
            em2.find(Player.class, ann.getId()).setRating(1900);
            em2.getTransaction().commit();
            em2.close();
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                EntityManager check = one.createEntityManager();
                try {
                    return check.find(Player.class, ann.getId()).getRating() == 1900;
                } finally {
                    check.close();
                }
            });
            assertEquals(1900, relay.queryLong("SELECT rating FROM player WHERE name = 'Ann'"));
        }
    }
}
