import Randomness
import Testing

struct SplitMix64Tests {
    /// The first outputs for seeds 0 and 1234567, from an independent Python transcription of
    /// Vigna's splitmix64.c:
    /// every user of `SplitMix64` (synthetic users, benchmark data, replay picks, tests) depends on
    /// this stream staying the same.
    @Test func matchesTheReferenceStream() {
        var a = SplitMix64(seed: 0)
        #expect([a.next(), a.next(), a.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        var b = SplitMix64(seed: 1_234_567)
        #expect([b.next(), b.next(), b.next()] == [0x599E_D017_FB08_FC85, 0x2C73_F084_5854_0FA5, 0x883E_BCE5_A3F2_7C77])
    }

    /// The unit draws are the top 53 (Double) or 24 (Float) bits of one output.
    @Test func unitDrawsUseTheTopBits() {
        var a = SplitMix64(seed: 0)
        #expect(a.nextDouble() == Double(UInt64(0xE220_A839_7B1D_CDAF) >> 11) * 0x1.0p-53)
        var b = SplitMix64(seed: 0)
        #expect(b.nextFloat() == Float(UInt64(0xE220_A839_7B1D_CDAF) >> 40) / Float(1 << 24))
    }
}
