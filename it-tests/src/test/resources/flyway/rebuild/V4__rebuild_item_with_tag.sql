-- A column with a constraint, which ALTER TABLE cannot add on SQLite, added the way SQLite's documentation changes a
-- table ("Making Other Kinds Of Table Schema Changes"): create the new table, copy, drop the old one, rename.
CREATE TABLE new_item (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    qty INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    tag TEXT CHECK (length(tag) <= 20)
);
INSERT INTO new_item (id, name, qty, note) SELECT id, name, qty, note FROM item;
DROP TABLE item;
ALTER TABLE new_item RENAME TO item;
CREATE INDEX item_tag ON item (tag);
UPDATE item SET tag = 'tag ' || id;
