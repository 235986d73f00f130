package io.syncsqlite.examples.jpa;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.JoinTable;
import jakarta.persistence.ManyToMany;

import java.time.LocalDate;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;

/** A tournament and the players enrolled in it (a many-to-many join table, synced like any other). */
@Entity
public class Tournament {

    @Id
    private String id;
    private String title;
    /** A PostgreSQL {@code date}; sqlite-jdbc keeps it as epoch milliseconds, the driver converts. */
    @Column(name = "starts_on")
    private LocalDate startsOn;

    @ManyToMany
    @JoinTable(name = "enrolment",
            joinColumns = @JoinColumn(name = "tournament_id"),
            inverseJoinColumns = @JoinColumn(name = "player_id"))
    private Set<Player> players = new HashSet<>();

    protected Tournament() {
    }

    public Tournament(String title) {
        this.id = UUID.randomUUID().toString();
        this.title = title;
    }

    public String getId() {
        return id;
    }

    public String getTitle() {
        return title;
    }

    public LocalDate getStartsOn() {
        return startsOn;
    }

    public void setStartsOn(LocalDate startsOn) {
        this.startsOn = startsOn;
    }

    public Set<Player> getPlayers() {
        return players;
    }

    public void enrol(Player p) {
        players.add(p);
    }
}
