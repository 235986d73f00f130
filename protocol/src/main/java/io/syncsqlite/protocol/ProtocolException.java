package io.syncsqlite.protocol;

/** A frame that is not a valid message of this protocol. */
public final class ProtocolException extends Exception {
    public ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }

    public ProtocolException(String message) {
        super(message);
    }
}
