;; SHA-256 (FIPS 180-4 §6.2) and HMAC-SHA-256 (RFC 2104) in WebAssembly.
;;
;; Why: node:crypto's createHash and createHmac build an OpenSSL context per
;; call, several microseconds each, and a TLS 1.3 handshake makes about forty
;; of them on either side (HKDF-Extract and HKDF-Expand-Label for every
;; secret, key and IV, Finished, transcript hashes). Here a call costs a copy
;; in, the compressions, and a copy out. sha256Binary.ts is this file
;; assembled (`npm run build:wasm`).
;;
;; Memory (one page; the caller places key and message, reads the digest):
;;   0    K     256 bytes, the 64 round constants (FIPS 180-4 §4.2.2)
;;   256  W     256 bytes, the message schedule of the block being compressed
;;   512  H     32 bytes, the hash state, host-endian words
;;   576  PAD   64 bytes, the final padded block, or the HMAC key xor ipad/opad
;;   640  KEY   64 bytes, the HMAC key (at most a block; longer keys are hashed first)
;;   704  OUT   32 bytes, the digest, big-endian
;;   768  INNER 32 bytes, H after an HMAC key's ipad block (a prepared key)
;;   800  OUTER 32 bytes, H after its opad block
;;   832  PKEY  64 bytes, the prepared key itself, which the caller compares
;;   1024 IO    64,512 bytes (1,008 blocks), the message
(module
  (memory (export "memory") 1)

  (data (i32.const 0)
    "\98\2f\8a\42\91\44\37\71\cf\fb\c0\b5\a5\db\b5\e9\5b\c2\56\39\f1\11\f1\59\a4\82\3f\92\d5\5e\1c\ab"
    "\98\aa\07\d8\01\5b\83\12\be\85\31\24\c3\7d\0c\55\74\5d\be\72\fe\b1\de\80\a7\06\dc\9b\74\f1\9b\c1"
    "\c1\69\9b\e4\86\47\be\ef\c6\9d\c1\0f\cc\a1\0c\24\6f\2c\e9\2d\aa\84\74\4a\dc\a9\b0\5c\da\88\f9\76"
    "\52\51\3e\98\6d\c6\31\a8\c8\27\03\b0\c7\7f\59\bf\f3\0b\e0\c6\47\91\a7\d5\51\63\ca\06\67\29\29\14"
    "\85\0a\b7\27\38\21\1b\2e\fc\6d\2c\4d\13\0d\38\53\54\73\0a\65\bb\0a\6a\76\2e\c9\c2\81\85\2c\72\92"
    "\a1\e8\bf\a2\4b\66\1a\a8\70\8b\4b\c2\a3\51\6c\c7\19\e8\92\d1\24\06\99\d6\85\35\0e\f4\70\a0\6a\10"
    "\16\c1\a4\19\08\6c\37\1e\4c\77\48\27\b5\bc\b0\34\b3\0c\1c\39\4a\aa\d8\4e\4f\ca\9c\5b\f3\6f\2e\68"
    "\ee\82\8f\74\6f\63\a5\78\14\78\c8\84\08\02\c7\8c\fa\ff\be\90\eb\6c\50\a4\f7\a3\f9\be\f2\78\71\c6")

  ;; Bytes loaded little-endian, as the big-endian word FIPS 180-4 reads.
  (func $bswap (param $x i32) (result i32)
    (i32.or
      (i32.and (i32.rotl (local.get $x) (i32.const 8)) (i32.const 0x00ff00ff))
      (i32.and (i32.rotr (local.get $x) (i32.const 8)) (i32.const 0xff00ff00))))

  ;; FIPS 180-4 §5.3.3: the initial hash value.
  (func $init
    (i32.store offset=512 (i32.const 0) (i32.const 0x6a09e667))
    (i32.store offset=516 (i32.const 0) (i32.const 0xbb67ae85))
    (i32.store offset=520 (i32.const 0) (i32.const 0x3c6ef372))
    (i32.store offset=524 (i32.const 0) (i32.const 0xa54ff53a))
    (i32.store offset=528 (i32.const 0) (i32.const 0x510e527f))
    (i32.store offset=532 (i32.const 0) (i32.const 0x9b05688c))
    (i32.store offset=536 (i32.const 0) (i32.const 0x1f83d9ab))
    (i32.store offset=540 (i32.const 0) (i32.const 0x5be0cd19)))

  ;; FIPS 180-4 §6.2.2: H ← H + compress(H, the 64-byte block at $p).
  ;; $t counts bytes (four per word) so it indexes K and W directly.
  (func $compress (param $p i32)
    (local $t i32) (local $x i32) (local $y i32) (local $t1 i32) (local $t2 i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $e i32) (local $f i32) (local $g i32) (local $h i32)
    (loop $load
      (i32.store offset=256 (local.get $t) (call $bswap (i32.load (i32.add (local.get $p) (local.get $t)))))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br_if $load (i32.lt_u (local.get $t) (i32.const 64))))
    ;; W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16]; the offsets are 256 + 4·(t - i).
    (loop $expand
      (local.set $x (i32.load offset=248 (local.get $t)))
      (local.set $y (i32.load offset=196 (local.get $t)))
      (i32.store offset=256 (local.get $t)
        (i32.add
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 17)) (i32.rotr (local.get $x) (i32.const 19))) (i32.shr_u (local.get $x) (i32.const 10)))
            (i32.load offset=228 (local.get $t)))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 7)) (i32.rotr (local.get $y) (i32.const 18))) (i32.shr_u (local.get $y) (i32.const 3)))
            (i32.load offset=192 (local.get $t)))))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br_if $expand (i32.lt_u (local.get $t) (i32.const 256))))
    (local.set $a (i32.load offset=512 (i32.const 0)))
    (local.set $b (i32.load offset=516 (i32.const 0)))
    (local.set $c (i32.load offset=520 (i32.const 0)))
    (local.set $d (i32.load offset=524 (i32.const 0)))
    (local.set $e (i32.load offset=528 (i32.const 0)))
    (local.set $f (i32.load offset=532 (i32.const 0)))
    (local.set $g (i32.load offset=536 (i32.const 0)))
    (local.set $h (i32.load offset=540 (i32.const 0)))
    (local.set $t (i32.const 0))
    (loop $round
      ;; T1 = h + Σ1(e) + Ch(e, f, g) + K[t] + W[t], with Ch(e, f, g) = g ^ (e & (f ^ g))
      (local.set $t1
        (i32.add
          (i32.add
            (i32.add
              (local.get $h)
              (i32.xor (i32.xor (i32.rotr (local.get $e) (i32.const 6)) (i32.rotr (local.get $e) (i32.const 11))) (i32.rotr (local.get $e) (i32.const 25))))
            (i32.xor (local.get $g) (i32.and (local.get $e) (i32.xor (local.get $f) (local.get $g)))))
          (i32.add (i32.load offset=0 (local.get $t)) (i32.load offset=256 (local.get $t)))))
      ;; T2 = Σ0(a) + Maj(a, b, c), with Maj(a, b, c) = (a & b) | (c & (a | b))
      (local.set $t2
        (i32.add
          (i32.xor (i32.xor (i32.rotr (local.get $a) (i32.const 2)) (i32.rotr (local.get $a) (i32.const 13))) (i32.rotr (local.get $a) (i32.const 22)))
          (i32.or (i32.and (local.get $a) (local.get $b)) (i32.and (local.get $c) (i32.or (local.get $a) (local.get $b))))))
      (local.set $h (local.get $g))
      (local.set $g (local.get $f))
      (local.set $f (local.get $e))
      (local.set $e (i32.add (local.get $d) (local.get $t1)))
      (local.set $d (local.get $c))
      (local.set $c (local.get $b))
      (local.set $b (local.get $a))
      (local.set $a (i32.add (local.get $t1) (local.get $t2)))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br_if $round (i32.lt_u (local.get $t) (i32.const 256))))
    (i32.store offset=512 (i32.const 0) (i32.add (i32.load offset=512 (i32.const 0)) (local.get $a)))
    (i32.store offset=516 (i32.const 0) (i32.add (i32.load offset=516 (i32.const 0)) (local.get $b)))
    (i32.store offset=520 (i32.const 0) (i32.add (i32.load offset=520 (i32.const 0)) (local.get $c)))
    (i32.store offset=524 (i32.const 0) (i32.add (i32.load offset=524 (i32.const 0)) (local.get $d)))
    (i32.store offset=528 (i32.const 0) (i32.add (i32.load offset=528 (i32.const 0)) (local.get $e)))
    (i32.store offset=532 (i32.const 0) (i32.add (i32.load offset=532 (i32.const 0)) (local.get $f)))
    (i32.store offset=536 (i32.const 0) (i32.add (i32.load offset=536 (i32.const 0)) (local.get $g)))
    (i32.store offset=540 (i32.const 0) (i32.add (i32.load offset=540 (i32.const 0)) (local.get $h))))

  ;; Compresses the whole blocks of the $len bytes at $p.
  (func $blocks (param $p i32) (param $len i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -64))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (call $compress (local.get $p))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $next))))

  ;; The last $len bytes of a message of $total bytes, at $p: whole blocks,
  ;; then FIPS 180-4 §5.1.1's padding (0x80, zeros, the length in bits as a
  ;; big-endian 64-bit integer) in PAD, one block or two.
  (func $finish (param $p i32) (param $len i32) (param $total f64)
    (local $rem i32) (local $bits i64)
    (call $blocks (local.get $p) (local.get $len))
    (local.set $rem (i32.and (local.get $len) (i32.const 63)))
    (memory.fill (i32.const 576) (i32.const 0) (i32.const 64))
    (memory.copy (i32.const 576) (i32.add (local.get $p) (i32.sub (local.get $len) (local.get $rem))) (local.get $rem))
    (i32.store8 offset=576 (local.get $rem) (i32.const 0x80))
    (if (i32.ge_u (local.get $rem) (i32.const 56))
      (then
        (call $compress (i32.const 576))
        (memory.fill (i32.const 576) (i32.const 0) (i32.const 64))))
    (local.set $bits (i64.shl (i64.trunc_f64_u (local.get $total)) (i64.const 3)))
    (i32.store offset=632 (i32.const 0) (call $bswap (i32.wrap_i64 (i64.shr_u (local.get $bits) (i64.const 32)))))
    (i32.store offset=636 (i32.const 0) (call $bswap (i32.wrap_i64 (local.get $bits))))
    (call $compress (i32.const 576)))

  ;; H, big-endian, to OUT.
  (func $digest
    (local $t i32)
    (loop $word
      (i32.store offset=704 (local.get $t) (call $bswap (i32.load offset=512 (local.get $t))))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br_if $word (i32.lt_u (local.get $t) (i32.const 32)))))

  ;; RFC 2104: H((K0 ^ pad) || ...) starts by compressing K0 ^ pad, one block.
  (func $keyBlock (param $pad i32)
    (local $t i32)
    (call $init)
    (loop $word
      (i32.store offset=576 (local.get $t) (i32.xor (i32.load offset=640 (local.get $t)) (local.get $pad)))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br_if $word (i32.lt_u (local.get $t) (i32.const 64))))
    (call $compress (i32.const 576)))

  ;; SHA-256 of the $len bytes at IO, to OUT.
  (func (export "hash") (param $len i32)
    (call $init)
    (call $finish (i32.const 1024) (local.get $len) (f64.convert_i32_u (local.get $len)))
    (call $digest))

  ;; A message longer than IO, in pieces: begin, blocks for each piece but
  ;; the last (a multiple of 64 bytes), then end with the last piece and the
  ;; message's whole length (for HMAC, 64 more: the key block).
  (func (export "begin")
    (call $init))

  (func (export "blocks") (param $len i32)
    (call $blocks (i32.const 1024) (local.get $len)))

  (func (export "end") (param $len i32) (param $total f64)
    (call $finish (i32.const 1024) (local.get $len) (local.get $total))
    (call $digest))

  ;; HMAC's inner hash starts: the caller has written the key's $keyLen
  ;; bytes (at most 64) at KEY; K0 is the key padded with zeros.
  (func $hmacBegin (export "hmacBegin") (param $keyLen i32)
    (memory.fill (i32.add (i32.const 640) (local.get $keyLen)) (i32.const 0) (i32.sub (i32.const 64) (local.get $keyLen)))
    (call $keyBlock (i32.const 0x36363636)))

  ;; HMAC's outer hash, over the inner digest in OUT, to OUT.
  (func $hmacEnd (export "hmacEnd")
    (call $keyBlock (i32.const 0x5c5c5c5c))
    (call $finish (i32.const 704) (i32.const 32) (f64.const 96))
    (call $digest))

  ;; A key used for several HMACs in a row (HKDF-Expand's PRK: a secret's key,
  ;; IV and header-protection key) is prepared once: the states after its
  ;; ipad and opad blocks, to INNER and OUTER, where they stay (nothing else
  ;; here writes there) for each `hmacPrepared`. That saves two compressions
  ;; of the four of a short message's HMAC.
  (func (export "hmacPrepare") (param $keyLen i32)
    (call $hmacBegin (local.get $keyLen))
    (memory.copy (i32.const 768) (i32.const 512) (i32.const 32))
    (call $keyBlock (i32.const 0x5c5c5c5c))
    (memory.copy (i32.const 800) (i32.const 512) (i32.const 32)))

  ;; HMAC-SHA-256 of the $len bytes at IO under the key prepared at INNER and OUTER, to OUT.
  (func (export "hmacPrepared") (param $len i32)
    (memory.copy (i32.const 512) (i32.const 768) (i32.const 32))
    (call $finish (i32.const 1024) (local.get $len) (f64.convert_i32_u (i32.add (local.get $len) (i32.const 64))))
    (call $digest)
    (memory.copy (i32.const 512) (i32.const 800) (i32.const 32))
    (call $finish (i32.const 704) (i32.const 32) (f64.const 96))
    (call $digest))

  ;; HMAC-SHA-256 of the $len bytes at IO under the $keyLen-byte key at KEY, to OUT.
  (func (export "hmac") (param $keyLen i32) (param $len i32)
    (call $hmacBegin (local.get $keyLen))
    (call $finish (i32.const 1024) (local.get $len) (f64.convert_i32_u (i32.add (local.get $len) (i32.const 64))))
    (call $digest)
    (call $hmacEnd)))
