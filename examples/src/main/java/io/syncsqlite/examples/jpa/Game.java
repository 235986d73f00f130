package io.syncsqlite.examples.jpa;

import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.ManyToOne;

/**
 * A game played in a tournament. Its id is an ordinary JPA {@code IDENTITY} key: SQLite's
 * {@code INTEGER PRIMARY KEY}, read back by Hibernate with {@code select last_insert_rowid()}. The driver
 * supplies keys the relay reserved for this device, so games created on several devices never collide.
 */
@Entity
public class Game {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @ManyToOne
    private Tournament tournament;

    private int round;
    private String result;

    protected Game() {
    }

    public Game(Tournament tournament, int round, String result) {
        this.tournament = tournament;
        this.round = round;
        this.result = result;
    }

    public Long getId() {
        return id;
    }

    public Tournament getTournament() {
        return tournament;
    }

    public int getRound() {
        return round;
    }

    public String getResult() {
        return result;
    }
}
