package io.syncsqlite.driver.sql;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A small SQLite-aware tokenizer: enough to classify any statement, including the ones JSqlParser cannot
 * parse ({@code INSERT OR REPLACE}, {@code BEGIN IMMEDIATE}, {@code RELEASE x}, {@code PRAGMA}, ...).
 *
 * <p>It skips white space, {@code --} and {@code /* *}{@code /} comments and string literals, and
 * yields words (upper-cased), quoted identifiers ({@code "x"}, {@code `x`}, {@code [x]}, unquoted) and
 * single punctuation characters. It stops after {@code limit} tokens: classification only needs the
 * head of a statement, and the cost must not grow with the statement.
 *
 * <p>Stateless; thread-safe.
 */
final class SqlLexer {

    /** A token: {@code word} is upper-cased for keywords, verbatim for quoted identifiers. */
    record Token(String text, boolean quoted) {
        boolean is(String keyword) {
            return !quoted && text.equals(keyword);
        }

        /** The identifier this token names, as SQLite would resolve it (unquoted; a string's body). */
        String identifier(String original) {
            return quoted ? text : original;
        }
    }

    private SqlLexer() {
    }

    /**
     * Tokenizes the head of {@code sql}. Words keep their original spelling in {@code originals} (same
     * index) so table names can be reported as written.
     *
     * @return tokens; a token {@code ";"} followed by more tokens means several statements
     */
    static List<Token> tokens(String sql, int limit, List<String> originals) {
        List<Token> out = new ArrayList<>();
        scan(sql, limit, (text, quoted, original, start, end) -> {
            out.add(new Token(text, quoted));
            if (originals != null) {
                originals.add(original);
            }
        });
        return out;
    }

    /** A token with its place in the SQL text: {@code sql.substring(start, end)} is what was written. */
    record Span(Token token, String original, int start, int end) {
    }

    /** Every token of {@code sql} with its position (for rewriting a statement in place). */
    static List<Span> spans(String sql) {
        List<Span> out = new ArrayList<>();
        scan(sql, Integer.MAX_VALUE, (text, quoted, original, start, end) ->
                out.add(new Span(new Token(text, quoted), original, start, end)));
        return out;
    }

    private interface Sink {
        void token(String text, boolean quoted, String original, int start, int end);
    }

    private static void scan(String sql, int limit, Sink sink) {
        int count = 0;
        int i = 0;
        int n = sql.length();
        while (i < n && count < limit) {
            char c = sql.charAt(i);
            int start = i;
            int paramEnd;
            if (Character.isWhitespace(c)) {
                i++;
                continue;
            }
            if (c == '-' && i + 1 < n && sql.charAt(i + 1) == '-') {
                int nl = sql.indexOf('\n', i);
                i = nl < 0 ? n : nl + 1;
                continue;
            }
            if (c == '/' && i + 1 < n && sql.charAt(i + 1) == '*') {
                int end = sql.indexOf("*/", i + 2);
                i = end < 0 ? n : end + 2;
                continue;
            }
            if (c == '\'') {
                i = skipQuoted(sql, i, '\'');
                // Its body as the original: SQLite takes a string where it expects a name ("ALTER TABLE 'item'").
                String body = sql.substring(start + 1, Math.max(start + 1, i - 1)).replace("''", "'");
                sink.token("'", false, body, start, i);
            } else if ((c == '$' || c == '@' || c == ':' || c == '#') && (paramEnd = parameterEnd(sql, i)) > 0) {
                // A named parameter whose name ends in "(...)" (SQLite's Tcl-style form): SQLite reads it as one
                // token up to the ')' or a space, quotes and comment starters included, and so must this lexer,
                // or a ';' and the statement after it would hide in what it took for a string.
                i = paramEnd;
                String word = sql.substring(start, i);
                sink.token(word.toUpperCase(Locale.ROOT), false, word, start, i);
            } else if (c == '"' || c == '`') {
                int end = skipQuoted(sql, i, c);
                String body = sql.substring(i + 1, Math.max(i + 1, end - 1));
                String text = body.replace(String.valueOf(c) + c, String.valueOf(c));
                i = end;
                sink.token(text, true, text, start, i);
            } else if (c == '[') {
                int end = sql.indexOf(']', i);
                end = end < 0 ? n : end;
                String text = sql.substring(i + 1, end);
                i = Math.min(n, end + 1);
                sink.token(text, true, text, start, i);
            } else if (Character.isLetterOrDigit(c) || c == '_' || c == '$') {
                while (i < n && (Character.isLetterOrDigit(sql.charAt(i)) || sql.charAt(i) == '_' || sql.charAt(i) == '$')) {
                    i++;
                }
                String word = sql.substring(start, i);
                sink.token(word.toUpperCase(Locale.ROOT), false, word, start, i);
            } else {
                i++;
                sink.token(String.valueOf(c), false, String.valueOf(c), start, i);
            }
            count++;
        }
    }

    /**
     * Where a parameter starting at {@code start} ({@code $}, {@code @}, {@code :} or {@code #}, then name
     * characters or {@code ::}) ends when its name is followed by {@code (}: as SQLite's tokenizer, up to and
     * including the next {@code )}, or up to the next space. 0 when there is no such parameter there (the
     * forms without parentheses are read as a character and a word, which skips the same text).
     */
    private static int parameterEnd(String sql, int start) {
        int n = sql.length();
        int i = start + 1;
        int name = 0;
        while (i < n) {
            char c = sql.charAt(i);
            if (Character.isLetterOrDigit(c) || c == '_' || c == '$' || c >= 0x80) {
                name++;
                i++;
            } else if (c == ':' && i + 1 < n && sql.charAt(i + 1) == ':') {
                i += 2;
            } else if (c == '(' && name > 0) {
                while (i < n && !Character.isWhitespace(sql.charAt(i)) && sql.charAt(i) != ')') {
                    i++;
                }
                return i < n && sql.charAt(i) == ')' ? i + 1 : i;
            } else {
                return 0;
            }
        }
        return 0;
    }

    private static int skipQuoted(String sql, int start, char quote) {
        int i = start + 1;
        int n = sql.length();
        while (i < n) {
            if (sql.charAt(i) == quote) {
                if (i + 1 < n && sql.charAt(i + 1) == quote) {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i++;
        }
        return n;
    }
}
