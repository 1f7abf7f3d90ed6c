"""The volume renderer: cameras, rays, sampling, occupancy skipping, compositing, trajectories."""
