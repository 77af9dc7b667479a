// The one definition of larval's memory layout and ABI codes.
//
// This file is compiled twice: by AssemblyScript into the data plane (assembly/)
// and by TypeScript into the host (src/). It may therefore contain only what both
// languages read the same way: `export enum` with literal members and
// `export const NAME = <integer literal>`. No types, no functions, no imports.
// Record strides and field offsets live here so that the host encodes and decodes
// records with exactly the offsets the engine uses.
//
// Addresses are stored as four u32 words in numeric (host) order, most significant
// word first: 10.1.2.3 is w0 = 0x0a010203, w1..w3 = 0; 2001:db8::1 is
// w0 = 0x20010db8, w1 = 0, w2 = 0, w3 = 1. Prefix masks are then plain integer masks.

// ---------------------------------------------------------------------------
// Enumerations shared by both sides

export enum Dir { Out = 0, In = 1, Fwd = 2 }
export const DIR_COUNT = 3;

export enum Family { None = 0, V4 = 4, V6 = 6 }

export enum Action { Bypass = 0, Discard = 1, Protect = 2 }

export enum Mode { Transport = 0, Tunnel = 1 }

// Template level (setkey's require/unique/use).
export enum Level { Require = 0, Unique = 1, Use = 2 }

// Mature → Dying (soft limit, R14) → Draining (a newer SA, or a hard limit: inbound
// only, for 2 × msl, R15) → removed.
export enum SaState { Free = 0, Mature = 1, Dying = 2, Draining = 3 }

export enum SaSelection { Newest = 0, Oldest = 1 }

// How the upper-layer fields of a flow key were filled (R3, R5).
export enum L4Kind { None = 0, Ports = 1, Icmp = 2 }

export enum Verdict {
  Bypass = 0,    // send in clear (policy bypass, default bypass, or opportunistic without SA)
  Protect = 1,   // protect with the SA in the record
  Discard = 2,   // a discard policy (or default discard) matched
  Drop = 3,      // the engine dropped it; the reason says why
  Malformed = 4, // the packet could not be parsed; the reason says why
  Queued = 5,    // held in the resolution queue of the larval SA in the record (R7, R9)
}
export const VERDICT_COUNT = 6;

// Why a verdict was given. Every drop and every malformed packet has one (R26).
export enum Reason {
  None = 0,
  Policy = 1,            // a policy's action decided
  DefaultPolicy = 2,     // no policy matched: the direction's default action
  Opportunistic = 3,     // level `use` without an SA: out in clear (R7a)
  NoSa = 4,              // protect policy, no usable SA, unresolved 'drop'/'eagain' (legacy presets, R11)
  Resolving = 5,         // queued: the larval SA's negotiation is under way (R7)
  LarvalFull = 6,        // no usable SA and the larval table is full (R25: counted, never sent in clear)
  QueueFull = 7,         // the larval SA's resolution queue holds its packet bound (R9)
  QueueBytes = 8,        // the resolution queues hold their global byte bound (R9)
  AcquireTimeout = 9,    // the larval SA expired unanswered; its queue was dropped (R10)
  AcquireFailed = 10,    // the key manager reported the negotiation failed (R8b)
  BindingsFull = 11,     // a `unique` template needs a new flow binding and the binding table is full
  Replayed = 12,         // inbound: the sequence number was already accepted (R19)
  ReplayTooOld = 13,     // inbound: the sequence number is left of the anti-replay window (R19)
  Spi = 14,              // inbound ESP whose SPI names an SA (R17): decrypt it with that SA
  UnknownSpi = 15,       // inbound ESP whose SPI names no SA (R18), or whose SA is gone
  // malformed packets (R5, R24)
  Truncated = 16,        // fewer bytes than the IP header needs
  BadVersion = 17,       // IP version is neither 4 nor 6
  BadIhl = 18,           // IPv4 header length < 20
  BadTotalLength = 19,   // IPv4 total length < header length, or longer than the packet
  BadPayloadLength = 20, // IPv6 payload length longer than the packet, or a jumbogram (unsupported)
  ExtHeaderTruncated = 21, // an IPv6 extension header runs past the end of the packet
  ExtChainTooLong = 22,  // more IPv6 extension headers than MAX_EXT_HEADERS
  HopByHopNotFirst = 23, // a hop-by-hop options header anywhere but first (RFC 8200 §4.1)
  FragmentOverflow = 24, // fragment offset + length past 65535 octets
  L4Truncated = 25,      // the transport header (ports, ICMP type/code, SPI) is cut off
  BadL4Header = 26,      // TCP data offset < 5 or past the end; UDP length < 8 or past the end; AH length
  Oversized = 27,        // wire length beyond the largest IP packet (65535 + 40)
  TinyFragment = 28,     // a non-first IPv4 fragment with offset 1 (RFC 1858 overlap attack)
  BadDescriptor = 29,    // the host described bytes outside the packet arena
  // inbound policy (R20)
  ClearProtected = 30,   // a cleartext packet matches an inbound protect policy
  PolicyMismatch = 31,   // a decrypted packet matches no inbound policy whose template fits its SA
  // ESP, counted by the host's ESP stage (src/esp/) through countDrops (R22, R23, R26)
  IntegrityFailed = 32,  // inbound: the ICV did not verify; the anti-replay window is not moved (R19)
  NoKeys = 33,           // the SA has no key material in the host: never sent in clear, never accepted (R23)
  BadEsp = 34,           // ESP too short for its SA's algorithm, ciphertext not block-aligned, or a bad trailer after the ICV verified
  CannotEncapsulate = 35, // outbound: ESP would exceed 65535 octets, or transport mode on a fragment or an extension chain ESP cannot follow
  BadChecksum = 36,      // inbound: the outer IPv4 header checksum is wrong (the ICV does not cover the outer header)
}
export const REASON_COUNT = 40;

// Status codes returned by control-plane exports (negative = error).
export enum Status {
  Ok = 0,
  TableFull = -1,
  NotFound = -2,
  Duplicate = -3,
  Invalid = -4,
  ClassifierFull = -5,
  IndexFull = -6,
  NotInitialised = -7,
  OutOfMemory = -8,
  IdsExhausted = -9,   // 2^31 - 1 ids handed out: ids are returned through an i32
  Stale = -10,         // no pending ACQUIRE has that sequence number (R12)
  PolicyChanged = -11, // the policy of that ACQUIRE changed since it was sent (R12)
  TemplateMismatch = -12, // the SA does not fit the template of that ACQUIRE
}

// ---------------------------------------------------------------------------
// Limits

export const MAX_EXT_HEADERS = 16;     // IPv6 extension headers walked before ExtChainTooLong
export const MAX_PACKET_BYTES = 65575; // 65535 payload + 40-byte IPv6 header
export const MAX_ID = 0x7fffffff;      // ids stay positive as i32 return values
export const MAX_EVENT_RING = 1048576; // event ring entries
export const MAX_REPLAY_WINDOW = 4096; // anti-replay window, packets (R19)
export const COLLISION_LIMIT = 8;      // classifier: rules per bucket before another table is tried
export const RECENT_ADDS = 16;         // flow cache: policy additions remembered per direction
export const CACHE_WAYS = 16;          // flow cache: entries per bucket (one 16-bit tag each, 32 tag bytes)

// ---------------------------------------------------------------------------
// Flow key (40 bytes): what the parser extracts and what the flow cache keys on.

export const FK_SRC = 0;       // 4 x u32 address words
export const FK_DST = 16;      // 4 x u32 address words
export const FK_SPORT = 32;    // u16 source port, or ICMP type
export const FK_DPORT = 34;    // u16 destination port, or ICMP code
export const FK_PROTO = 36;    // u8 upper-layer protocol
export const FK_FAMILY = 37;   // u8 Family
export const FK_KIND = 38;     // u8 L4Kind
export const FK_DIR = 39;      // u8 Dir
export const FK_SIZE = 40;

// Per-packet work record of a batch: the flow key, its hash and parse results.
export const PW_KEY = 0;       // flow key (FK_SIZE bytes)
export const PW_HASH = 40;     // u32 flow hash
export const PW_SPI = 44;      // u32 ESP/AH SPI (host order) when proto is 50/51
export const PW_L4OFF = 48;    // u32 offset of the upper-layer header
export const PW_STATUS = 52;   // u32 0 = parsed, else Reason of a malformed packet
export const PW_POLICY = 56;   // u32 policy slot + 1 decided for the packet (0 = default)
export const PW_GROUP = 60;    // u32 SA group slot + 1 for a protect decision (0 = none)
export const PW_SIZE = 64;

// ---------------------------------------------------------------------------
// Batch input: descriptors written by the host, one per packet.

export const PD_OFFSET = 0;    // u32 byte offset of the packet in the arena
export const PD_CAPLEN = 4;    // u32 bytes present in the arena
export const PD_WIRELEN = 8;   // u32 length of the packet on the wire (>= caplen)
export const PD_SA = 12;       // u32 inbound inner packets: the SA id they arrived on (else 0)
export const PD_SEQ = 16;      // u64 inbound inner packets: their full sequence number (R19)
export const PD_SIZE = 24;

// Verdict record, one per packet, written by the engine.
export const VR_VERDICT = 0;   // u8 Verdict
export const VR_REASON = 1;    // u8 Reason
export const VR_FAMILY = 2;    // u8 Family (0 if malformed)
export const VR_PROTO = 3;     // u8 upper-layer protocol
export const VR_POLICY = 4;    // u32 policy id (0 = none)
export const VR_SA = 8;        // u32 SA id (0 = none)
export const VR_SPI = 12;      // u32 SPI of that SA, or of the packet's own ESP/AH header
export const VR_LARVAL = 16;   // u32 larval SA id (resolution; 0 = none)
export const VR_L4OFF = 20;    // u32 offset of the upper-layer header (ESP insertion point)
export const VR_SEQ = 24;      // u64 inbound ESP: the full sequence number (ESN inferred, R19)
export const VR_SIZE = 32;

// ---------------------------------------------------------------------------
// Policy record. The host writes a policy spec with these offsets into the control
// block; the engine copies it into a slot and fills the internal fields.

export const PO_ID = 0;        // u32 policy id (engine-assigned, never reused)
export const PO_GEN = 4;       // u32 generation (R12); 0 while the slot is free
export const PO_DIR = 8;       // u8 Dir
export const PO_FAMILY = 9;    // u8 Family
export const PO_ACTION = 10;   // u8 Action
export const PO_FLAGS = 11;    // u8 POF_* bits
export const PO_SRCLEN = 12;   // u8 source prefix length
export const PO_DSTLEN = 13;   // u8 destination prefix length
export const PO_PROTO = 14;    // u8 protocol (valid unless POF_PROTO_ANY)
export const PO_SRC = 16;      // 4 x u32 source prefix (masked)
export const PO_DST = 32;      // 4 x u32 destination prefix (masked)
export const PO_SP_LO = 48;    // u16 source port low, or ICMP type low
export const PO_SP_HI = 50;    // u16
export const PO_DP_LO = 52;    // u16 destination port low, or ICMP code low
export const PO_DP_HI = 54;    // u16
export const PO_SEQ = 56;      // u32 insertion sequence (R1 tie-break); low word of the rank
export const PO_PRIORITY = 60; // u32 priority (R1); high word of the rank
export const PO_RANK = 56;     // u64 rank = priority << 32 | seq; lower wins
export const PO_NEXT = 64;     // u32 next policy slot + 1 in the classifier bucket (rank order)
export const PO_TABLE = 68;    // u32 classifier table index
export const PO_TNEXT = 72;    // u32 next member slot + 1 of the same classifier table
export const PO_TPREV = 76;    // u32 previous member slot + 1 of the same classifier table
// template (protect only)
export const PO_T_PROTO = 80;  // u8 IPsec protocol (50 = ESP)
export const PO_T_MODE = 81;   // u8 Mode
export const PO_T_LEVEL = 82;  // u8 Level
export const PO_T_FAMILY = 83; // u8 Family of the tunnel endpoints
export const PO_T_REQID = 84;  // u32 reqid (0 = any)
export const PO_T_SRC = 88;    // 4 x u32 tunnel source
export const PO_T_DST = 104;   // 4 x u32 tunnel destination
export const PO_GROUP = 120;   // u32 SA group slot + 1 resolved for tunnel templates
export const PO_SIZE = 128;

// Policy hot records: what a flow-cache hit reads of its policy, one per policy slot.
export const PH_GEN = 0;       // u32 the policy's generation (0 = slot free)
export const PH_ID = 4;        // u32 policy id
export const PH_ACTION = 8;    // u32 Action
export const PH_SIZE = 16;

export const POF_PROTO_ANY = 1;
export const POF_PORTS = 2;    // the port ranges constrain (R3): only TCP/UDP/SCTP match
export const POF_ICMP = 4;     // the ICMP type/code ranges constrain (R3): only ICMP matches

// ---------------------------------------------------------------------------
// SA record. The host writes an SA spec with these offsets into the control block.

export const SA_ID = 0;        // u32 SA id (engine-assigned, never reused)
export const SA_STATE = 4;     // u8 SaState
export const SA_FAMILY = 5;    // u8 Family of the endpoints
export const SA_PROTO = 6;     // u8 IPsec protocol (50 = ESP)
export const SA_MODE = 7;      // u8 Mode
export const SA_SPI = 8;       // u32 SPI
export const SA_REQID = 12;    // u32 reqid
export const SA_SRC = 16;      // 4 x u32 source endpoint
export const SA_DST = 32;      // 4 x u32 destination endpoint
export const SA_ADDTIME = 48;  // f64 engine time of the install (ms)
export const SA_ADDSEQ = 56;   // u32 install sequence
export const SA_FLAGS = 60;    // u32 SAF_* bits
export const SA_GROUP_EXACT = 64; // u32 group slot + 1 keyed with the SA's reqid (0 if reqid is 0)
export const SA_GROUP_ANY = 68;   // u32 group slot + 1 keyed with reqid "any"
export const SA_NEXT_EXACT = 72;  // u32 SA slot + 1: next member of the exact group
export const SA_PREV_EXACT = 76;
export const SA_NEXT_ANY = 80;    // u32 SA slot + 1: next member of the any group
export const SA_PREV_ANY = 84;
export const SA_SPI_NEXT = 88;    // u32 SA slot + 1: next SA with the same SPI (R17 SPI-only level)
export const SA_BINDING = 92;     // u32 flow binding of a `unique` SA (0 = none)
export const SA_SIZE = 128;
export const SAF_ESN = 1;         // 64-bit extended sequence numbers (RFC 4303 §2.2.1, R19)

// ---------------------------------------------------------------------------
// SA group: all SAs that fit one resolution key; keeps the best one by R6. One cache
// line holding what the packet path reads; member lists and references are kept
// in separate arrays.

export const GR_KEY = 0;       // resolution key (RK_SIZE bytes)
export const GR_BEST = 48;     // u32 SA slot + 1 of the best SA, 0 = none
export const GR_BEST_ID = 52;  // u32 that SA's id
export const GR_BEST_SPI = 56; // u32 that SA's SPI
export const GR_GEN = 60;      // u32 generation: non-zero while the group exists
export const GR_SIZE = 64;

// Resolution key (the group index key). Also the template-matching rule of R6:
// an SA fits a template when family, protocol, mode, endpoints and (unless the
// template's reqid is 0) reqid are equal.
export const RK_FAMILY = 0;    // u8
export const RK_PROTO = 1;     // u8
export const RK_MODE = 2;      // u8
export const RK_FLAGS = 3;     // u8 RKF_* bits
export const RK_REQID = 4;     // u32
export const RK_SRC = 8;       // 4 x u32
export const RK_DST = 24;      // 4 x u32
export const RK_BINDING = 40;  // u32 flow binding of a `unique` resolution key; 0 otherwise
export const RK_PAD = 44;      // u32 0
export const RK_SIZE = 48;
export const RKF_REQID_ANY = 1;

// SPI index key (R17: (SPI, dst) is unique).
export const SK_SPI = 0;       // u32
export const SK_FAMILY = 4;    // u32
export const SK_DST = 8;       // 4 x u32
export const SK_SIZE = 24;

// ---------------------------------------------------------------------------
// Classifier table descriptor (tuple space search with merged tuples).

export const CT_SRCLEN = 0;    // u8 source prefix length of the table's mask
export const CT_DSTLEN = 1;    // u8 destination prefix length of the table's mask
export const CT_DIRFAM = 2;    // u8 dir * 2 + (family == 6)
export const CT_USED = 3;      // u8 1 = in use
export const CT_COUNT = 4;     // u32 policies in the table
export const CT_HEAD = 8;      // u32 first member policy slot + 1
export const CT_MINRANK = 16;  // u64 best (lowest) rank of its members
export const CT_SIZE = 24;

// Bucket key of the classifier's shared hash index: (table, masked src, masked dst).
export const BK_TABLE = 0;     // u32 table index
export const BK_PAD = 4;       // u32 0
export const BK_SRC = 8;       // 4 x u32
export const BK_DST = 24;      // 4 x u32
export const BK_SIZE = 40;

// ---------------------------------------------------------------------------
// Generic index (open addressing, linear probing): slot = [u32 tag][u32 value][key][extra].
// tag = hash | TAG_BIT, so 0 marks an empty slot, and tag & mask is still the home
// slot (capacities stay below 2^30).

export const IX_TAG = 0;
export const IX_VALUE = 4;
export const IX_KEY = 8;
export const TAG_BIT = 0x40000000;

// Index descriptor (one per index, in the header region).
export const ID_BASE = 0;      // u32 slots base pointer
export const ID_MASK = 4;      // u32 capacity - 1 (capacity is a power of two)
export const ID_SLOT = 8;      // u32 slot size in bytes
export const ID_KEYWORDS = 12; // u32 key size in u64 words
export const ID_COUNT = 16;    // u32 occupied slots
export const ID_LIMIT = 20;    // u32 maximum occupied slots (load factor bound)
export const ID_SIZE = 32;

// ---------------------------------------------------------------------------
// Flow cache entry (one cache line). The bucket's tags (u16 each, CACHE_WAYS of them)
// are in a separate, small array: a lookup reads an entry only when its tag matches.

export const FC_KEY = 0;       // flow key (FK_SIZE bytes)
export const FC_TAG = 40;      // u32 hash | TAG_BIT (a check before the key compare)
export const FC_POLICY = 44;   // u32 policy slot + 1; 0 = the direction's default action
export const FC_GEN = 48;      // u32 the policy's generation when cached (or the default's)
export const FC_EPOCH = 52;    // u32 the direction's add epoch when last validated
export const FC_GROUP = 56;    // u32 SA group slot + 1 resolved for a transport template (0 = none)
export const FC_GROUP_GEN = 60; // u32 that group's generation; with FC_GROUP 0, the group epoch
                                //     at which "no group" was found; 0 = not resolved yet
export const FC_SIZE = 64;

// ---------------------------------------------------------------------------
// Counters: u64 each, at the counter region. Read by stats().

export const CN_PACKETS = 0;                         // [DIR_COUNT] packets per direction
export const CN_VERDICTS = 3;                        // [DIR_COUNT * VERDICT_COUNT]
export const CN_REASONS = 21;                        // [DIR_COUNT * REASON_COUNT] verdicts by reason
export const CN_REASONS_END = CN_REASONS + DIR_COUNT * REASON_COUNT;
export const CN_CACHE_HITS = CN_REASONS_END + 0;
export const CN_CACHE_MISSES = CN_REASONS_END + 1;
export const CN_CACHE_STALE = CN_REASONS_END + 2;                   // hits rejected by a generation check
export const CN_CACHE_REVALIDATED = CN_REASONS_END + 3;             // hits kept after checking recent additions
export const CN_CACHE_EVICTIONS = CN_REASONS_END + 4;
export const CN_CLASSIFY = CN_REASONS_END + 5;                      // classifier lookups
export const CN_TABLES_PROBED = CN_REASONS_END + 6;
export const CN_RULES_COMPARED = CN_REASONS_END + 7;
export const CN_SA_LOOKUPS = CN_REASONS_END + 8;
export const CN_ACQUIRES = CN_REASONS_END + 9;                      // ACQUIRE events written to the ring (R8)
export const CN_ACQUIRES_DEFERRED = CN_REASONS_END + 10;             // ACQUIREs that found the ring full (R8c)
export const CN_LARVAL_CREATED = CN_REASONS_END + 11;
export const CN_LARVAL_RESOLVED = CN_REASONS_END + 12;
export const CN_LARVAL_EXPIRED = CN_REASONS_END + 13;                // R10
export const CN_LARVAL_FAILED = CN_REASONS_END + 14;                 // R8b without retry
export const CN_RELEASED = CN_REASONS_END + 15;                      // queued packets decided again on release (R9)
export const CN_INVALID_SPI_EVENTS = CN_REASONS_END + 16;            // INVALID_SPI events written (R18)
export const CN_INVALID_SPI_SUPPRESSED = CN_REASONS_END + 17;        // unknown-SPI packets whose event the rate limit held back
export const CN_EVENTS_LOST = CN_REASONS_END + 18;                   // EXPIRE/DELETED events the full ring and backlog could not hold
export const CN_COUNT = CN_REASONS_END + 19;

// ---------------------------------------------------------------------------
// Engine configuration block, written by the host before init().

export const CF_MAX_POLICIES = 0;   // u32
export const CF_MAX_SAS = 4;        // u32
export const CF_CACHE_SLOTS = 8;    // u32 flow-cache slots (power of two)
export const CF_BATCH = 12;         // u32 packets per batch
export const CF_ARENA = 16;         // u32 bytes of packet arena
export const CF_MAX_TABLES = 20;    // u32 classifier tables (all directions and families)
export const CF_SA_SELECTION = 24;  // u32 SaSelection
export const CF_DEFAULT_OUT = 28;   // u32 Action for Dir.Out (Bypass or Discard)
export const CF_DEFAULT_IN = 32;
export const CF_DEFAULT_FWD = 36;
export const CF_MAX_LARVAL = 40;    // u32 larval SAs (R7)
export const CF_MAX_BINDINGS = 44;  // u32 flow bindings of `unique` templates
export const CF_EVENT_RING = 48;    // u32 event ring entries (power of two)
export const CF_UNRESOLVED = 52;    // u32 Unresolved
export const CF_RESEND_EVERY = 56;  // u32 acquireResend every n packets (0 = never, R8)
export const CF_ACQUIRE_TIMEOUT = 60; // u32 larval lifetime in ms (R10)
export const CF_REPLAY_WINDOW = 64; // u32 anti-replay window in packets (R19): a multiple of 32, 32..MAX_REPLAY_WINDOW
export const CF_INVALID_SPI_RATE = 68; // u32 INVALID_SPI events per second at most (R18)
export const CF_MSL = 72;           // u32 maximum segment lifetime in ms: SAs drain for 2 × msl (R15)
export const CF_SA_SWITCH = 76;     // u32 SaSwitch
export const CF_SIZE = 128;

// Region table written by init(): pointers the host reads to build its views.
export const RG_CONTROL = 0;        // u32 address of the control block (CONTROL_SIZE bytes): specs, keys, results
export const RG_DESCRIPTORS = 4;    // u32 address of the batch descriptors
export const RG_ARENA = 8;          // u32 address of the packet arena
export const RG_VERDICTS = 12;      // u32 address of the verdict records
export const RG_COUNTERS = 16;      // u32 address of the counters
export const RG_POLICIES = 20;      // u32 address of the policy records
export const RG_SAS = 24;           // u32 address of the SA records
export const RG_TOTAL = 28;         // u32 bytes of linear memory in use
export const RG_LARVAL = 32;        // u32 address of the larval SA records
export const RG_EVENTS = 36;        // u32 address of the event ring (EVR_* header, then EV_SIZE records)
export const RG_OUTCOMES = 40;      // u32 address of the larval outcomes of the last call (OC_* header, then records)
export const RG_LIFETIMES = 44;     // u32 address of the lifetime records (LT_SIZE per SA slot)
export const RG_STAGE = 48;         // u32 address of the capture-buffer staging: offsets, lengths, wire lengths (u32 x batch each)
export const RG_SIZE = 64;
export const CONTROL_SIZE = 256;

// ---------------------------------------------------------------------------
// SA resolution (R7–R12)

// What the outbound path does with a packet whose protect policy has no usable SA.
export enum Unresolved {
  Queue = 0,  // larval: hold it in the larval SA's resolution queue (R7)
  Drop = 1,   // linux: drop it (the local sender was told success)
  Eagain = 2, // drop forwarded packets; local senders get EAGAIN (R11 legacy mode)
}

// Larval SA record: one per resolution key under negotiation.
export const LV_KEY = 0;       // resolution key (RK_SIZE bytes); RK_BINDING set for `unique`
export const LV_FLOW = 48;     // flow key (FK_SIZE) of the packet that created it (ACQUIRE)
export const LV_ID = 88;       // u32 larval id = ACQUIRE sequence number (never reused); 0 = free
export const LV_POLICY = 92;   // u32 policy id that needed the SA
export const LV_POLICY_GEN = 96; // u32 that policy's generation (R12)
export const LV_FLAGS = 100;   // u8 LVF_* bits
export const LV_LEVEL = 101;   // u8 Level of the template
export const LV_DIR = 102;     // u8 Dir
export const LV_CAUSE = 103;   // u8 AcquireCause of the ACQUIRE waiting for room (R8c)
export const LV_BLOCKED = 104; // u32 packets since the last ACQUIRE (acquireResend)
export const LV_PREV = 108;    // u32 previous larval slot + 1 in expiry order
export const LV_EXPIRES = 112; // f64 engine time at which it expires (R10)
export const LV_NEXT = 120;    // u32 next larval slot + 1 in expiry order
export const LV_UNDELIVERED_NEXT = 124; // u32 next larval slot + 1 in the undelivered list (R8c)
export const LV_SIZE = 128;
export const LVF_UNDELIVERED = 1; // its ACQUIRE is waiting for room in the event ring

// Event ring: a header, then `capacity` records. The engine writes at tail, the host
// reads from head and stores the new head; both count up and wrap mod capacity.
export const EVR_HEAD = 0;     // u32 written by the host
export const EVR_TAIL = 4;     // u32 written by the engine
export const EVR_CAPACITY = 8; // u32
export const EVR_SIZE = 64;

export enum EventType { Acquire = 1, InvalidSpi = 2, Expire = 3, Deleted = 4 }
export const EV_TYPE = 0;      // u8 EventType
export const EV_LEVEL = 1;     // u8 Level of the template
export const EV_DIR = 2;       // u8 Dir of the policy
export const EV_REASON = 3;    // u8 AcquireCause
export const EV_SEQ = 4;       // u32 ACQUIRE: sequence number (the larval id); INVALID_SPI: the SPI
export const EV_POLICY = 8;    // u32 policy id
export const EV_POLICY_GEN = 12; // u32 policy generation (R12)
export const EV_SA = 4;        // EXPIRE/DELETED: u32 SA id (in EV_SEQ's place)
export const EV_SPI = 8;       // EXPIRE/DELETED: u32 the SA's SPI (in EV_POLICY's place)
export const EV_TIME = 16;     // f64 engine time of the event
export const EV_KEY = 24;      // resolution key (RK_SIZE): template with endpoints
export const EV_FLOW = 72;     // flow key (FK_SIZE) of the triggering packet (INVALID_SPI: the outer header)
export const EV_SIZE = 128;

// Why an ACQUIRE was written.
export enum AcquireCause {
  New = 0,       // a new larval SA
  Resend = 1,    // acquireResend: more packets arrived (legacy presets only)
  Retry = 2,     // the KM answered with an error and asked for a retry (R8b)
  Reregister = 3, // the KM registered again (R8a)
}

// Larval outcomes of the last engine call: how each larval SA that ended, ended.
// The host reads them after every call to release or drop its queues.
export const OC_COUNT = 0;     // u32 records
export const OC_HEADER = 8;
export const OC_LARVAL = 0;    // u32 larval id
export const OC_KIND = 4;      // u32 Outcome
export const OC_SA = 8;        // u32 SA id (Resolved)
export const OC_PAD = 12;
export const OC_SIZE = 16;

export enum Outcome {
  Resolved = 1,      // an SA for its key was installed: release the queue (R9)
  Expired = 2,       // acquireTimeout passed (R10)
  Failed = 3,        // the KM reported failure without retry (R8b)
  PolicyRemoved = 4, // the policy that created it was removed: decide its packets again
}

// Flow binding of a `unique` template: (template key, flow) -> binding id.
export const BD_KEY = 0;       // resolution key (RK_SIZE) with RK_BINDING 0
export const BD_FLOW = 48;     // flow key (FK_SIZE)
export const BD_SIZE = 88;     // key bytes in the binding index
export const BR_REFS = 0;      // binding record: u32 references (larval + SAs)
export const BR_INDEX_KEY = 8; // copy of the index key (BD_SIZE), to find the index slot again
export const BR_SIZE = 96;

// Status of resolveFlow() for the socket layer (R11), written into the control block.
export enum FlowState { Ready = 0, Pending = 1, Blocked = 2, Unavailable = 3 }
export const RF_STATE = 0;     // u32 FlowState
export const RF_REASON = 4;    // u32 Reason
export const RF_POLICY = 8;    // u32 policy id
export const RF_SA = 12;       // u32 SA id (Ready and protected)
export const RF_LARVAL = 16;   // u32 larval id (Pending)
export const RF_VERDICT = 20;  // u32 Verdict a packet of the flow would get now
export const RF_OFFSET = 128;  // where in the control block the result is written

// ---------------------------------------------------------------------------
// Anti-replay state per SA (R19), in its own region (stride fixed at init):
// the highest sequence number accepted, then a ring bitmap (RFC 6479) of
// nextPow2(window + 32) bits, so advancing the window clears whole words and
// never shifts.
export const RP_TOP = 0;       // u64 highest sequence number accepted; 0 = none yet
export const RP_BITS = 8;      // u32 words of the ring bitmap

// ---------------------------------------------------------------------------
// Lifetimes (R13–R16): one record per SA slot in its own region. The host writes
// the limits of a new SA at LS_OFFSET of the control block in this layout.

// What happens to an SA that stops being used for output (a newer SA, a hard limit).
export enum SaSwitch {
  Drain = 0,  // larval: inbound still accepted for 2 × msl, then removed (R15)
  Delete = 1, // legacy presets: removed at once
}

export const LT_PACKETS = 0;      // u64 packets counted (both directions use the SA)
export const LT_BYTES = 8;        // u64 bytes counted
export const LT_SEQ_OUT = 16;     // u64 last outbound sequence number handed out (R13)
export const LT_FLAGS = 24;       // u32 LTF_* bits (the first 64 bytes hold all a packet touches)
export const LT_SOFT_PACKETS = 32; // u64 limits: 0 = none
export const LT_HARD_PACKETS = 40;
export const LT_SOFT_BYTES = 48;
export const LT_HARD_BYTES = 56;
export const LT_SOFT_ADD = 64;    // f64 ms after the install; 0 = none
export const LT_HARD_ADD = 72;
export const LT_SOFT_USE = 80;    // f64 ms after the first use; 0 = none
export const LT_HARD_USE = 88;
export const LT_DRAIN_END = 96;   // f64 engine time at which a draining SA is removed
export const LT_HEAP = 104;       // u32 timer-heap position + 1; 0 = no timer
export const LT_FIRST_USE = 112;  // f64 engine time of the first packet (valid with LTF_USED)
export const LTF_ESN = 1;         // a copy of the SA's SAF_ESN
export const LTF_SOFT_FIRED = 2;  // EXPIRE(soft) was sent (R14: once)
export const LTF_USED = 4;        // a packet was counted: LT_FIRST_USE is set
export const LT_SIZE = 128;
export const LS_OFFSET = 128;     // lifetime spec in the control block (LT_SOFT_PACKETS..LT_HARD_USE used)
export const SEQ_SOFT_32 = 0xf0000000;  // outbound sequence numbers: EXPIRE(soft) from here (R13)
export const SEQ_HARD_32 = 0xffffffff;  // and the last one an SA may send without ESN
export const SEQ_SOFT_64_HIGH = 0xf0000000; // with ESN: EXPIRE(soft) once the high 32 bits reach this

export enum ExpireKind { Soft = 0, Hard = 1 }
