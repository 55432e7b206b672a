from tfagent.agent.cli.main import main

main()
