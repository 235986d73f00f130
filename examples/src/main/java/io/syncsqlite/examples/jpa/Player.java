package io.syncsqlite.examples.jpa;

import jakarta.persistence.Entity;
import jakarta.persistence.Id;

import java.util.UUID;

/** A player. Ids are UUID strings assigned by the application, so devices never collide offline. */
@Entity
public class Player {

    @Id
    private String id;
    private String name;
    private int rating;

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
}
