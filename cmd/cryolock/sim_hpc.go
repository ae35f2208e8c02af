package main

import (
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/cryolock-go/cryolock/sim"
)

// newSimHPCCmd is `cryolock sim hpc`: the HPC workload of issue 15 (item 5)
// in the simulator.
func newSimHPCCmd() *cobra.Command {
	var (
		runs    int
		procs   int
		acqs    int
		reads   float64
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "hpc [flags]",
		Short: "Simulate the HPC workload: 100 jobs on a reader–writer lock, 99% reads",
		Long: `hpc runs the simulator's HPC workload (sim.HPC): 100 batch jobs sharing one
reader–writer lock under rules v1, 99% of acquisitions reads holding 0.8–1.2 s,
1% writes, up to 3 jobs crashing per run (their entries evicted by whichever
job meets them), inside the fault model. It reports the writers' and readers'
longest waits and the readers' throughput in virtual time, the crashes and
evictions, and checks every run for violations and the writers' wait against
sim.HPCWriterWaitBound (docs/PROOF.md §4, "The HPC workload").
--acquisitions and --reads change the preset: more acquisitions per job
make a longer stream of overlapping reads.

Exit status: 0 when no run violates a property and no writer waited longer
than the bound, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			if runs < 1 {
				return exitCode(exitUsage, fmt.Errorf("sim hpc: --runs %d: want at least 1", runs))
			}
			cfg := sim.HPC()
			if cmd.Flags().Changed("procs") {
				if procs < 1 || procs > sim.MaxProcs {
					return exitCode(exitUsage, fmt.Errorf("sim hpc: --procs %d: want 1..%d jobs", procs, sim.MaxProcs))
				}
				cfg.Procs = procs
			}
			if cmd.Flags().Changed("acquisitions") {
				if acqs < 1 {
					return exitCode(exitUsage, fmt.Errorf("sim hpc: --acquisitions %d: each job takes the lock at least once", acqs))
				}
				cfg.Acquisitions = acqs
			}
			if cmd.Flags().Changed("reads") {
				if !(reads > 0 && reads <= 1) {
					return exitCode(exitUsage, fmt.Errorf("sim hpc: --reads %v: the share of reads must be above 0 and at most 1", reads))
				}
				cfg.ReadFraction = reads
			}
			if err := cfg.InModel(); err != nil {
				return exitCode(exitUsage, err)
			}
			rep := sim.MeasureHPC(ctx, cfg, runs)
			bound := sim.HPCWriterWaitBound(cfg)
			ok := rep.Violations == 0 && rep.WriterMaxWait <= bound
			if jsonOut {
				m := map[string]any{
					"ok": ok, "runs": rep.Runs, "violations": rep.Violations, "reads": rep.Reads, "writes": rep.Writes,
					"writer_max_wait_s": rep.WriterMaxWait.Seconds(), "writer_wait_bound_s": bound.Seconds(),
					"reader_max_wait_s": rep.ReaderMaxWait.Seconds(), "reads_per_s": rep.ReadsPerSecond,
					"crashes": rep.Crashes, "evictions": rep.Evictions, "steps": rep.Steps, "elapsed_s": rep.Elapsed.Seconds(),
				}
				if f := rep.First; f != nil {
					m["first_violation"] = f.Violations[0].String()
					m["first_seed"] = f.Seed
				}
				if err := writeJSON(cmd.OutOrStdout(), m); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\nwriter wait bound %v\n", cfg.Summary(), rep, bound)
				if f := rep.First; f != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "first violation: seed %d: %v\n", f.Seed, f.Violations[0])
				}
			}
			if !ok {
				return exitCode(exitFail, fmt.Errorf("sim hpc: %d runs violated a property; longest writer wait %v (bound %v)", rep.Violations, rep.WriterMaxWait, bound))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&runs, "runs", 100, "runs (seeds 1..runs)")
	cmd.Flags().IntVar(&procs, "procs", 0, fmt.Sprintf("jobs (default 100, at most %d)", sim.MaxProcs))
	cmd.Flags().IntVar(&acqs, "acquisitions", sim.HPC().Acquisitions, "acquisitions per job (more make a longer stream of reads)")
	cmd.Flags().Float64Var(&reads, "reads", 0.99, "share of acquisitions that are reads")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return cmd
}
