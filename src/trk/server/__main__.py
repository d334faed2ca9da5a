"""`python -m trk.server --backend-store-uri ...`: the `trk server` command on its own."""

from trk.server.cli import server_command

if __name__ == "__main__":
    server_command(prog_name="trk server")
