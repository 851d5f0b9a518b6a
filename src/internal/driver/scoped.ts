import { Effect, type Exit, Scope } from "effect"

/**
 * Effect.acquireRelease without its FiberRefs bookkeeping. Effect's
 * `addFinalizer` diffs and patches every FiberRef twice when the scope
 * closes, so that the release runs with the acquiring fiber's FiberRefs:
 * about 15 µs for each connection and each stream opened. The releases
 * registered here (closing a connection or a stream) are driver calls that
 * read no FiberRef.
 *
 * `acquire` runs uninterruptibly, so what it acquires always has its release
 * (given the scope's exit) in the scope; it may hand `restore` a wait that
 * holds nothing yet, which then can be interrupted
 * (Effect.uninterruptibleMask).
 */
export const acquireInScope = <A, E, R>(
  acquire: (restore: <X, EX, RX>(wait: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>) => Effect.Effect<A, E, R>,
  release: (a: A, exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
): Effect.Effect<A, E, R | Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.tap(acquire(restore), (a) => Scope.addFinalizerExit(scope, (exit) => release(a, exit)))
    ))
