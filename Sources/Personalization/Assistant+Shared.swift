import Foundation
import LLM
import Tuning
public import Vault

/// The shared adapter a home holds (`SharedAdapterStore.current`), as a frozen adapter for a model:
/// what `PersonalTrainer` trains on top of and `Assistant` attaches. Nil until the home has one.
public func sharedAdapterSource(for home: ClientHome) -> SharedAdapterSource {
    { config in
        guard let shared = try SharedAdapterStore.current(home) else { return nil }
        let adapter = try LoRAAdapter.shared(spec: shared.spec, vector: shared.vector, model: config)
        adapter.training = .frozen
        return adapter
    }
}
