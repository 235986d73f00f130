-- Seed rows: another device may have them already from the server, so the insert tolerates them.
INSERT OR IGNORE INTO item (id, name) VALUES (1, 'one'), (2, 'two');
