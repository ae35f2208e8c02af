; Lemma R's timing argument (docs/PROOF.md, Lemma R step 3 and A3), checked by z3.
; Run by .ci/check-margin.sh: every query prints "; <name> expect <sat|unsat>"
; and then z3's answer; the script fails unless every answer is the expected one.
;
; Real time, with the holder A's last counted refresh starting at h = 0.
;   rho  clock rate bound (A4): a monotonic clock measures an interval of real
;        length x as some m with (1-rho) x <= m <= (1+rho) x
;   L    the lease
;   Da   A3a: a heartbeat goroutine (refresh loop or watchdog) due at tau runs by tau + Da
;   Db   A3b: a told holder stops acting on the protected resource within Db of being told
;   sg   sigma, A5: W_O(t2) - W_A(t1) <= (t2 - t1) + sigma for the wall clocks of any two
;        parties at any instants (offsets, steps and drift over the run: sim.Config.Skew)
;   g    mtime granularity (A6): a stored mtime m satisfies W - g <= m <= W for the wall time W written
;
; What the model says happens (Lemma R):
;   xo   real time at which A's monotonic clock has measured 0.75 L since h (the overdue point)
;   told A is told: the watchdog fires by xo + Da, unless a refresh counted before it
;        looked; such a refresh completed before the watchdog ran, so before xo + Da, and
;        the fresh stat at r1 would have shown it (step 2) -- the same bound covers it
;   stop A stops acting: by told + Db
;   f    O's first sighting of the pair written at h (Observed): f >= h
;   r1   the start of O's fresh read (J4); the removal r comes after it, and any
;        new holder after the removal, so r1 is the earliest instant anyone may reap
;
; The property (Lemma R, strengthened by A3b): told < r1 and stop <= r1.

(set-option :produce-models true)

(declare-const rho Real)
(declare-const L Real)
(declare-const Da Real)
(declare-const Db Real)
(declare-const sg Real)
(declare-const g Real)
(declare-const xo Real)
(declare-const told Real)
(declare-const stop Real)
(declare-const f Real)
(declare-const r1 Real)
; WallClock: the wall time A wrote (at t1 >= h), the stored mtime, O's wall time at r1
(declare-const t1 Real)
(declare-const wa Real)
(declare-const m Real)
(declare-const wo Real)

(define-fun D () Real (ite (>= Da Db) Da Db))

; Parameters: A4 (rho <= 1/8), positive lease, delays >= 0, Db > 0 (a bound on a
; real delay can always be taken positive), skew and granularity >= 0.
(define-fun params () Bool
  (and (>= rho 0.0) (<= rho (/ 1.0 8.0)) (> L 0.0)
       (>= Da 0.0) (> Db 0.0) (>= sg 0.0) (>= g 0.0)))

; A's side, common to both rules. A4 on A's clock over [0, xo]: it measured 0.75 L.
(define-fun holder () Bool
  (and (> xo 0.0)
       (<= (* (- 1.0 rho) xo) (* 0.75 L))
       (<= (* 0.75 L) (* (+ 1.0 rho) xo))
       (>= told 0.0) (<= told (+ xo Da))
       (>= stop told) (<= stop (+ told Db))))

; Observed (T2): O saw the pair unchanged for L on its clock from f to r1.
(define-fun observed () Bool
  (and (>= f 0.0) (>= r1 f)
       (<= L (* (+ 1.0 rho) (- r1 f)))))

; WallClock (T3): O's wall clock at r1 exceeds the stored mtime by more than L.
(define-fun wallclock () Bool
  (and (>= t1 0.0) (>= r1 t1)
       (<= m wa) (>= m (- wa g))
       (> wo (+ m L))
       (<= (- wo wa) (+ (- r1 t1) sg))))

(define-fun safe () Bool (and (< told r1) (<= stop r1)))

; The margins.
;  - exact: what the chain of inequalities needs, with the conversions done right.
(define-fun exactObserved () Bool
  (<= (+ (/ (* 0.75 L) (- 1.0 rho)) Da Db) (/ L (+ 1.0 rho))))
(define-fun exactWall () Bool
  (<= (+ (/ (* 0.75 L) (- 1.0 rho)) Da Db) (- L sg g)))
;  - the fault model's (sim.Config.InModel, PROOF.md A3), with D = max(Da, Db)
(define-fun simObserved () Bool (<= (+ (* 2.0 D) (* 2.0 rho L)) (/ L 4.0)))
(define-fun simWall () Bool (<= (+ (* 2.0 D) (* rho L) sg g) (/ L 4.0)))
;  - weakened: without A3b's D (a told holder stops at once)
(define-fun noToldObserved () Bool (<= (+ D (* 2.0 rho L)) (/ L 4.0)))
(define-fun noToldWall () Bool (<= (+ D (* rho L) sg g) (/ L 4.0)))
;  - weakened: drift not budgeted
(define-fun noDriftObserved () Bool (<= (* 2.0 D) (/ L 4.0)))
;  - weakened: granularity not budgeted (WallClock)
(define-fun noGranWall () Bool (<= (+ (* 2.0 D) (* rho L) sg) (/ L 4.0)))
;  - the old text's intermediate step: 0.75 L on a clock slow by rho takes at most 0.75 L (1 + rho)
(define-fun oldConversion () Bool (<= xo (* 0.75 L (+ 1.0 rho))))

; 1. The fault model's margin implies the property (Observed).
(echo "; observed-sim-margin-safe expect unsat")
(push)
(assert (and params holder observed simObserved (not safe)))
(check-sat)
(pop)

; 2. The exact margin implies the property (Observed).
(echo "; observed-exact-margin-safe expect unsat")
(push)
(assert (and params holder observed exactObserved (not safe)))
(check-sat)
(pop)

; 3. The fault model's margin implies the exact one (Observed, rho <= 1/8).
(echo "; observed-sim-implies-exact expect unsat")
(push)
(assert (and params simObserved (not exactObserved)))
(check-sat)
(pop)

; 4. ... and is strictly stronger: some configurations satisfy the exact margin only.
(echo "; observed-exact-weaker expect sat")
(push)
(assert (and params exactObserved (not simObserved)))
(check-sat)
(get-value (rho L Da Db))
(pop)

; 5. The exact margin is tight: violating it allows an unsafe schedule.
(echo "; observed-exact-tight expect sat")
(push)
(assert (and params holder observed (not exactObserved) (not safe)))
(check-sat)
(pop)

; 6. Without A3b's D the margin is not enough: a told holder still acts after r1.
(echo "; observed-without-told-delay expect sat")
(push)
(assert (and params holder observed noToldObserved (not safe)))
(check-sat)
(get-value (rho L Da Db xo told stop f r1))
(pop)

; 7. Without the drift term: a slow holder clock and a fast observer clock break it.
(echo "; observed-without-drift expect sat")
(push)
(assert (and params holder observed noDriftObserved (not safe)))
(check-sat)
(get-value (rho L Da Db xo told stop f r1))
(pop)

; 8. The fault model's margin implies the property (WallClock).
(echo "; wallclock-sim-margin-safe expect unsat")
(push)
(assert (and params holder wallclock simWall (not safe)))
(check-sat)
(pop)

; 9. The exact margin implies the property (WallClock).
(echo "; wallclock-exact-margin-safe expect unsat")
(push)
(assert (and params holder wallclock exactWall (not safe)))
(check-sat)
(pop)

; 10. The fault model's margin implies the exact one (WallClock, rho <= 1/8).
(echo "; wallclock-sim-implies-exact expect unsat")
(push)
(assert (and params simWall (not exactWall)))
(check-sat)
(pop)

; 11. Without A3b's D (WallClock).
(echo "; wallclock-without-told-delay expect sat")
(push)
(assert (and params holder wallclock noToldWall (not safe)))
(check-sat)
(get-value (rho L Da Db sg g xo told stop r1))
(pop)

; 12. Without the granularity term (WallClock), even with g < L/4.
(echo "; wallclock-without-granularity expect sat")
(push)
(assert (and params holder wallclock noGranWall (< g (/ L 4.0)) (not safe)))
(check-sat)
(get-value (rho L Da Db sg g xo told stop r1))
(pop)

; 13. The old text's conversion 0.75 L (1 + rho) is wrong: a clock slow by rho
;     reaches 0.75 L later than that.
(echo "; old-conversion-wrong expect sat")
(push)
(assert (and params holder (> rho 0.0) (not oldConversion)))
(check-sat)
(get-value (rho L xo))
(pop)

; 14. C4.3 (Lemma R step 4): at any d >= r1, A's clock shows >= 0.75 L since h, so a
;     contender deciding "held" after the reap sees its heartbeat overdue. With the
;     fault model's margin (Observed): (1 - rho) d >= 0.75 L for every d >= r1.
(declare-const d Real)
(echo "; observed-decide-after-reap-overdue expect unsat")
(push)
(assert (and params observed simObserved (>= d r1) (< (* (- 1.0 rho) d) (* 0.75 L))))
(check-sat)
(pop)
(echo "; wallclock-decide-after-reap-overdue expect unsat")
(push)
(assert (and params wallclock simWall (>= d r1) (< (* (- 1.0 rho) d) (* 0.75 L))))
(check-sat)
(pop)
