package io.syncsqlite.examples.jpa;

import jakarta.persistence.Column;
import jakarta.persistence.ElementCollection;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.Id;

import java.util.HashSet;
import java.util.Set;
import java.util.UUID;

/** A player. Ids are UUID strings assigned by the application, so devices never collide offline. */
@Entity
public class Player {

    @Id
    private String id;
    private String name;
    private int rating;

    /** A set of values in a table of its own ({@code player_tags}); Hibernate keys it by (player, tag). */
    @ElementCollection(fetch = FetchType.EAGER)
    @Column(name = "tags", nullable = false)
    private Set<String> tags = new HashSet<>();

    protected Player() {
    }

    public Player(String name, int rating) {
        this.id = UUID.randomUUID().toString();
        this.name = name;
        this.rating = rating;
    }

    public String getId() {
        return id;
    }

    public String getName() {
        return name;
    }

    public int getRating() {
        return rating;
    }

    public void setRating(int rating) {
        this.rating = rating;
    }

    public Set<String> getTags() {
        return tags;
    }
}
