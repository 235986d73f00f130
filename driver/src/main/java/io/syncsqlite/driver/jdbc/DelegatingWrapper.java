package io.syncsqlite.driver.jdbc;

import java.sql.SQLException;
import java.sql.Wrapper;

/**
 * The {@link Wrapper} part every delegating class shares: {@code unwrap} answers this object, then the
 * delegate, then whatever the delegate wraps (so {@code unwrap(SQLiteConnection.class)} reaches
 * sqlite-jdbc). {@code equals}/{@code hashCode} stay identity: delegating them breaks pools that keep
 * wrappers in sets.
 *
 * <p>As thread-safe as the delegate.
 */
abstract class DelegatingWrapper<D extends Wrapper> implements Wrapper {

    protected final D delegate;

    DelegatingWrapper(D delegate) {
        this.delegate = delegate;
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
        if (iface.isInstance(this)) {
            return iface.cast(this);
        }
        if (iface.isInstance(delegate)) {
            return iface.cast(delegate);
        }
        return delegate.unwrap(iface);
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) throws SQLException {
        return iface.isInstance(this) || iface.isInstance(delegate) || delegate.isWrapperFor(iface);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + delegate + "]";
    }
}
